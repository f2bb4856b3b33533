/**
 * minirunc under the real dockerd 20.10, with the real docker CLI: `--add-runtime minidocker=...`
 * and `docker run --runtime minidocker`. dockerd's config.json carries what a runtime meets in
 * the wild: a prestart hook (libnetwork-setkey) even with --network none, capabilities, seccomp,
 * masked paths, bind mounts of resolv.conf, hostname and hosts. One dockerd for the file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { cpuUsedIn, dockerdWithProbe, removeAllAndStop, type Dockerd } from '../support/runtime.ts'

let dir: string
let dockerd: Dockerd
const RUN = ['run', '--runtime', 'minidocker', '--network', 'none']

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-dockerd-'))
  dockerd = await dockerdWithProbe(dir)
}, 90_000)

afterAll(async () => {
  if (dockerd) await removeAllAndStop(dockerd)
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

describeKernel('minirunc under dockerd (docker run --runtime minidocker)', () => {
  it('docker run: output, hostname, and the exit code', async () => {
    const r = await dockerd.docker([...RUN, '--rm', '--hostname', 'box', 'probe', '/probe', 'pid', 'hostname', 'exit:4'])
    expect(r.stderr, 'the container\'s stderr is create\'s: nothing of the runtime\'s may go there (its errors and notes go to --log, which dockerd shows as "OCI runtime create failed: MSG")').toBe('')
    expect(probeLines(r.stdout)).toEqual([{ pid: 1, ppid: 0 }, { hostname: 'box' }])
    expect(r.code, 'docker run must exit with the container\'s code').toBe(4)
  })

  it('-d, docker top, docker stop: a detached container runs, lists its processes, stops', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, `docker run -d failed: ${r.stderr}`).toBe(0)
    const id = r.stdout.trim()
    const inspect = async (format: string) => (await dockerd.docker(['inspect', '-f', format, id])).stdout.trim()
    expect(await inspect('{{.State.Status}}'), 'the container must be running: did start let the process exec?').toBe('running')
    const top = await dockerd.docker(['top', id])
    expect(top.stdout, 'docker top calls `ps --format json ID` and shows each PID\'s command').toMatch(/\/probe sleep:?\s?60000/)
    const stop = await dockerd.docker(['stop', '-t', '1', id])
    expect(stop.code, stop.stderr).toBe(0)
    expect(await inspect('{{.State.Status}}')).toBe('exited')
    expect(await inspect('{{.State.ExitCode}}'), 'PID 1 ignores SIGTERM; after the timeout docker kills it: 137').toBe('137')
    expect((await dockerd.docker(['rm', id])).code).toBe(0)
  })

  it('docker exec joins the container: its PID namespace and hostname, and the exit code', async () => {
    const r = await dockerd.docker([...RUN, '-d', '--hostname', 'box', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    try {
      const exec = await dockerd.docker(['exec', id, '/probe', 'pid', 'hostname', 'exit:6'])
      expect(probeLines(exec.stdout), `docker exec: a second process in the container's PID and UTS namespaces; stderr: ${exec.stderr}`).toEqual([{ pid: 2, ppid: 0 }, { hostname: 'box' }])
      expect(exec.code, 'docker exec exits with the process\'s code, which only the shim, its subreaper, can collect after exec --detach (see "exec")').toBe(6)
      const missing = await dockerd.docker(['exec', id, '/nope'])
      expect(missing.stdout + missing.stderr, 'exec of a missing program fails in the runtime\'s words (docker prints it on stdout)').toMatch(/exec: "\/nope": stat \/nope: no such file or directory/)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  })

  it('docker run -it and docker exec -it: a terminal through the console socket, and the exit code', async () => {
    const run = await dockerd.dockerTty([...RUN, '-it', '--rm', 'probe', '/probe', 'tty', 'exit:5'])
    expect(probeLines(run.stdout), `docker run -it: the container's stdin must be its own pty slave and controlling terminal; output: ${run.stdout}`).toEqual([{ tty: '/dev/pts/0', controlling: true }])
    expect(run.code, 'docker run -it exits with the container\'s code').toBe(5)
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    try {
      const exec = await dockerd.dockerTty(['exec', '-it', id, '/probe', 'tty', 'pid', 'exit:7'])
      expect(probeLines(exec.stdout), `docker exec -it: exec --detach --console-socket; output: ${exec.stdout}`).toEqual([{ tty: '/dev/pts/0', controlling: true }, { pid: 2, ppid: 0 }])
      expect(exec.code, 'docker exec -it exits with the process\'s code, which only the shim, its subreaper, can collect after exec --detach (see "exec")').toBe(7)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  }, 120_000)

  it('docker pause and unpause: the container\'s processes stop using the CPU, then go on', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'burn:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    const inspect = async (format: string) => (await dockerd.docker(['inspect', '-f', format, id])).stdout.trim()
    try {
      const pid = Number(await inspect('{{.State.Pid}}'))
      const paused = await dockerd.docker(['pause', id])
      expect(paused.code, `docker pause calls \`pause ID\`: ${paused.stderr}`).toBe(0)
      expect(await inspect('{{.State.Status}}')).toBe('paused')
      expect(await cpuUsedIn(pid, 300), 'a paused container\'s process must not run: is it in the frozen cgroup?').toBe(0)
      const unpaused = await dockerd.docker(['unpause', id])
      expect(unpaused.code, `docker unpause calls \`resume ID\`: ${unpaused.stderr}`).toBe(0)
      expect(await inspect('{{.State.Status}}')).toBe('running')
      expect(await cpuUsedIn(pid, 300), 'after unpause the process runs again').toBeGreaterThan(0)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  }, 120_000)

  it('docker run --ulimit, --sysctl, --oom-score-adj, and the masked and read-only paths of docker\'s config.json', async () => {
    const r = await dockerd.docker([...RUN, '--rm', '--ulimit', 'nofile=1000:2000', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=77', '--oom-score-adj', '200',
      'probe', '/probe', 'cat:/proc/self/limits', 'cat:/proc/sys/net/ipv4/ip_unprivileged_port_start', 'cat:/proc/self/oom_score_adj', 'stat:/proc/timer_list', 'write:/proc/sys/kernel/domainname:x'])
    const [limits, portStart, oom, timerList, write] = probeLines(r.stdout)
    expect(limits?.cat, `--ulimit arrives as process.rlimits; stderr: ${r.stderr}`).toMatch(/^Max open files\s+1000\s+2000\s/m)
    expect(portStart?.cat, '--sysctl arrives as linux.sysctl, written in the container\'s network namespace').toBe('77\n')
    expect(oom?.cat, '--oom-score-adj arrives as process.oomScoreAdj').toBe('200\n')
    expect(timerList?.rdev, 'docker masks /proc/timer_list (maskedPaths): the container must not read the host\'s (config-linux.md "Masked Paths"; the text\'s "maskedPaths and readonlyPaths")').toEqual([1, 3])
    expect(write, 'docker makes /proc/sys read-only (readonlyPaths)').toMatchObject({ step: 'write', errno: 'EROFS' })
  })

  it('docker rm -f removes a running container', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    const rm = await dockerd.docker(['rm', '-f', id])
    expect(rm.code, `docker rm -f failed: ${rm.stderr}`).toBe(0)
    expect((await dockerd.docker(['ps', '-aq', '--no-trunc'])).stdout).not.toContain(id)
  })
})
