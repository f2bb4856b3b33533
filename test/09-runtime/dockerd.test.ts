/**
 * minirunc under the real dockerd 20.10, with the real docker CLI: `--add-runtime minidocker=...`
 * and `docker run --runtime minidocker`. dockerd's config.json carries what a runtime meets in
 * the wild: a prestart hook (libnetwork-setkey) even with --network none, capabilities, seccomp,
 * masked paths, bind mounts of resolv.conf, hostname and hosts. One dockerd for the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildImage, probeEntries, tarFolder, writeDockerSave } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { runtimeWrapper, startDockerd } from '../support/runtime.ts'

let dir: string
let dockerd: Awaited<ReturnType<typeof startDockerd>>
const RUN = ['run', '--runtime', 'minidocker', '--network', 'none']

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-dockerd-'))
  dockerd = await startDockerd(dir, runtimeWrapper(dir))
  const image = await buildImage([probeEntries()], { docker: true })
  const save = join(dir, 'save')
  writeDockerSave(save, [{ image, tags: ['probe:latest'] }])
  writeFileSync(join(dir, 'probe.tar'), await tarFolder(save))
  const loaded = await dockerd.docker(['load', '-i', join(dir, 'probe.tar')])
  if (loaded.code !== 0) throw new Error(`docker load failed: ${loaded.stderr}`)
}, 90_000)

afterAll(async () => {
  if (dockerd) {
    const all = (await dockerd.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)
    if (all.length) await dockerd.docker(['rm', '-f', ...all])
    await dockerd.stop()
  }
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

describeKernel('minirunc under dockerd (docker run --runtime minidocker)', () => {
  it('docker run: output, hostname, and the exit code', async () => {
    const r = await dockerd.docker([...RUN, '--rm', '--hostname', 'box', 'probe', '/probe', 'pid', 'hostname', 'exit:4'])
    expect(r.stderr, 'dockerd shows the runtime\'s error as "OCI runtime create failed: MSG"').toBe('')
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
      expect(exec.code).toBe(6)
      const missing = await dockerd.docker(['exec', id, '/nope'])
      expect(missing.stdout + missing.stderr, 'exec of a missing program fails in the runtime\'s words (docker prints it on stdout)').toMatch(/exec: "\/nope": stat \/nope: no such file or directory/)
    } finally {
      await dockerd.docker(['rm', '-f', id])
    }
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
