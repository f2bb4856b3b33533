/**
 * minirunc under the real dockerd 20.10, with the real docker CLI: `--add-runtime minidocker=...`
 * and `docker run --runtime minidocker`. dockerd's config.json carries what a runtime meets in
 * the wild: a prestart hook (libnetwork-setkey) even with --network none, capabilities, seccomp,
 * masked paths, bind mounts of resolv.conf, hostname and hosts. One dockerd for the file.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { cpuUsedIn, dockerdWithProbe, removeAllAndStop, runsAgainWithin, type Dockerd } from '../support/runtime.ts'

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
}, 120_000)

describeKernel('minirunc under dockerd (docker run --runtime minidocker)', () => {
  it('docker run --rm --hostname box of a probe that exits 4', async () => {
    const r = await dockerd.docker([...RUN, '--rm', '--hostname', 'box', 'probe', '/probe', 'pid', 'hostname', 'exit:4'])
    expect(r.stderr, 'docker run\'s stderr, which is the container\'s and create\'s: where do the runtime\'s own notes go? (the text\'s "The real thing" and "What this runtime leaves out")').toBe('')
    expect(probeLines(r.stdout), 'what the probe printed of its PID and hostname').toEqual([{ pid: 1, ppid: 0 }, { hostname: 'box' }])
    expect(r.code, 'docker run\'s exit code vs the program\'s 4').toBe(4)
  })

  it('docker run -d, then docker top and docker stop -t 1', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, `docker run -d failed: ${r.stderr}`).toBe(0)
    const id = r.stdout.trim()
    const inspect = async (format: string) => (await dockerd.docker(['inspect', '-f', format, id])).stdout.trim()
    expect(await inspect('{{.State.Status}}'), 'State.Status after docker run -d').toBe('running')
    const top = await dockerd.docker(['top', id])
    expect(top.stdout, `docker top: ${top.stderr}`).toMatch(/\/probe sleep:?\s?60000/)
    const stop = await dockerd.docker(['stop', '-t', '1', id])
    expect(stop.code, stop.stderr).toBe(0)
    expect(await inspect('{{.State.Status}}'), 'State.Status after docker stop').toBe('exited')
    expect(await inspect('{{.State.ExitCode}}'), 'State.ExitCode after docker stop -t 1').toBe('137')
    expect((await dockerd.docker(['rm', id])).code, 'exit code of docker rm').toBe(0)
  })

  it('docker exec of a probe that prints its PID and hostname and exits 6, and of /nope', async () => {
    const r = await dockerd.docker([...RUN, '-d', '--hostname', 'box', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    try {
      const exec = await dockerd.docker(['exec', id, '/probe', 'pid', 'hostname', 'exit:6'])
      expect(probeLines(exec.stdout), `what docker exec's probe printed of its PID and hostname (the text's "exec"); stderr: ${exec.stderr}`).toEqual([{ pid: 2, ppid: 0 }, { hostname: 'box' }])
      expect(exec.code, 'docker exec\'s exit code vs the program\'s 6: whose child is the exec\'d process once exec --detach has returned? (the text\'s "exec")').toBe(6)
      const missing = await dockerd.docker(['exec', id, '/nope'])
      expect(missing.stdout + missing.stderr, 'docker exec of /nope (docker prints the runtime\'s error on stdout)').toMatch(/exec: "\/nope": stat \/nope: no such file or directory/)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  })

  it('docker run -it and docker exec -it of a probe that reports its terminal', async () => {
    const run = await dockerd.dockerTty([...RUN, '-it', '--rm', 'probe', '/probe', 'tty', 'exit:5'])
    expect(probeLines(run.stdout), `the probe's terminal under docker run -it (the text's "A terminal"); output: ${run.stdout}`).toEqual([{ tty: '/dev/pts/0', controlling: true }])
    expect(run.code, 'docker run -it\'s exit code vs the program\'s 5').toBe(5)
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    try {
      const exec = await dockerd.dockerTty(['exec', '-it', id, '/probe', 'tty', 'pid', 'exit:7'])
      expect(probeLines(exec.stdout), `the probe's terminal and PID under docker exec -it (the shim runs exec --detach --console-socket; the text's "exec"); output: ${exec.stdout}`).toEqual([{ tty: '/dev/pts/0', controlling: true }, { pid: 2, ppid: 0 }])
      expect(exec.code, 'docker exec -it\'s exit code vs the program\'s 7: whose child is the exec\'d process once exec --detach has returned? (the text\'s "exec")').toBe(7)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  }, 120_000)

  it('docker pause and unpause of a CPU burner', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'burn:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    const inspect = async (format: string) => (await dockerd.docker(['inspect', '-f', format, id])).stdout.trim()
    try {
      const pid = Number(await inspect('{{.State.Pid}}'))
      const paused = await dockerd.docker(['pause', id])
      expect(paused.code, `docker pause (the shim runs \`pause ID\`): ${paused.stderr}`).toBe(0)
      expect(await inspect('{{.State.Status}}'), 'State.Status after docker pause').toBe('paused')
      expect(await cpuUsedIn(pid, 300), 'CPU time the process used in 300 ms while paused (the text\'s "pause and resume")').toBe(0)
      const unpaused = await dockerd.docker(['unpause', id])
      expect(unpaused.code, `docker unpause (the shim runs \`resume ID\`): ${unpaused.stderr}`).toBe(0)
      expect(await inspect('{{.State.Status}}'), 'State.Status after docker unpause').toBe('running')
      expect(await runsAgainWithin(pid, 10_000), 'the process used no CPU within 10 s of docker unpause').toBe(true)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
  }, 120_000)

  it('docker run --ulimit, --sysctl, --oom-score-adj, with docker\'s masked and read-only paths', async () => {
    const r = await dockerd.docker([...RUN, '--rm', '--ulimit', 'nofile=1000:2000', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=77', '--oom-score-adj', '200',
      'probe', '/probe', 'cat:/proc/self/limits', 'cat:/proc/sys/net/ipv4/ip_unprivileged_port_start', 'cat:/proc/self/oom_score_adj', 'stat:/proc/timer_list', 'write:/proc/sys/kernel/domainname:x'])
    const [limits, portStart, oom, timerList, write] = probeLines(r.stdout)
    expect(limits?.cat, `the probe's /proc/self/limits under --ulimit nofile=1000:2000 (process.rlimits); stderr: ${r.stderr}`).toMatch(/^Max open files\s+1000\s+2000\s/m)
    expect(portStart?.cat, 'net.ipv4.ip_unprivileged_port_start as the probe reads it under --sysctl ...=77 (linux.sysctl)').toBe('77\n')
    expect(oom?.cat, 'the probe\'s /proc/self/oom_score_adj under --oom-score-adj 200 (process.oomScoreAdj)').toBe('200\n')
    expect(timerList?.rdev, 'what the probe finds at /proc/timer_list, in docker\'s maskedPaths (config-linux.md "Masked Paths"; the text\'s "maskedPaths and readonlyPaths")').toEqual([1, 3])
    expect(write, 'a write under /proc/sys, in docker\'s readonlyPaths').toMatchObject({ step: 'write', errno: 'EROFS' })
  })

  it('docker run -m 64m of a probe that reads its memory limit in /sys/fs/cgroup', async () => {
    const file = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes'
    const r = await dockerd.docker([...RUN, '--rm', '-m', '64m', 'probe', '/probe', `cat:${file}`])
    const [limit] = probeLines(r.stdout)
    expect(limit, `what the probe reads at ${file} under docker run -m 64m (dockerd's config.json mounts "cgroup" at /sys/fs/cgroup; the text's "The container's /sys/fs/cgroup"); stderr: ${r.stderr}`).toMatchObject({ cat: `${64 * 2 ** 20}\n` })
  })

  it('docker rm -f of a running container', async () => {
    const r = await dockerd.docker([...RUN, '-d', 'probe', '/probe', 'sleep:60000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    const rm = await dockerd.docker(['rm', '-f', id])
    expect(rm.code, `docker rm -f failed: ${rm.stderr}`).toBe(0)
    expect((await dockerd.docker(['ps', '-aq', '--no-trunc'])).stdout, 'docker ps -aq after docker rm -f').not.toContain(id)
  })
})
