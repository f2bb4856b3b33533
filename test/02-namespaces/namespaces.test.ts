import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runProcess } from '#ch/01-process/process.ts'
import { enterNamespaces, namespacesToCreate, setHostname } from '#ch/02-namespaces/namespaces.ts'
import { ContainerError } from '../../lib/errors.ts'
import { baseSpec, type Spec } from '../../lib/oci.ts'
import { alive, probeSpec, runCaptured, waitFor } from '../support/container.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { startHelper } from '../support/helper.ts'
import { PROBE_PATH, probeLines, probeValue } from '../support/probe.ts'

/** Run `spec` in its namespaces; also returns the host PID enterNamespaces gave back. */
async function runInNamespaces(spec: Spec) {
  let pid = 0
  const run = await runCaptured(spec, async (h) => {
    pid = await enterNamespaces(h, spec)
  })
  return { ...run, pid }
}

describe('namespacesToCreate', () => {
  it('lists the types in linux.namespaces, each once, in order', () => {
    const spec = probeSpec([], ['uts', 'pid', 'uts', 'ipc'])
    expect(namespacesToCreate(spec)).toEqual(['uts', 'pid', 'ipc'])
  })

  it('gives an empty list when the spec has no linux section', () => {
    expect(namespacesToCreate(baseSpec(['true'])), 'no linux.namespaces means: create none').toEqual([])
  })

  it('refuses an entry with a path (joining a namespace comes later)', async () => {
    const spec = probeSpec([])
    spec.linux!.namespaces!.push({ type: 'network', path: '/proc/1/ns/net' })
    expect(await caught(() => namespacesToCreate(spec)), 'a namespace with a path must be refused with a ContainerError').toBeInstanceOf(ContainerError)
  })
})

describeKernel('a container in new UTS, PID and IPC namespaces', () => {
  it('runs the command as PID 1', async () => {
    const { code, stdout } = await runInNamespaces(probeSpec(['pid']))
    expect(code).toBe(0)
    const seen = probeLines(stdout).find((l) => 'pid' in l) as { pid: number; ppid: number }
    expect(seen.pid, `expected PID 1 inside the container but saw ${seen.pid} — did the process fork after unshare(CLONE_NEWPID)?`).toBe(1)
    expect(seen.ppid, 'PID 1 has no parent inside its namespace: getppid() must be 0').toBe(0)
  })

  it('returns the host PID of the container\'s PID 1', async () => {
    let nspid = ''
    let returned = 0
    const spec = probeSpec(['exit:0'])
    await runCaptured(spec, async (h) => {
      returned = await enterNamespaces(h, spec)
      nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${returned}/status`, 'utf8'))?.[1] ?? ''
    })
    expect(nspid.split(/\s+/), `enterNamespaces returned ${returned}: that must be the PID fork() gave, which the host sees and the container calls 1`).toEqual([String(returned), '1'])
  })

  it('sets the container\'s hostname and leaves the host\'s alone', async () => {
    const before = hostname()
    const spec = probeSpec(['hostname'])
    spec.hostname = 'box-02'
    const { stdout } = await runInNamespaces(spec)
    expect(probeValue(stdout, 'hostname'), 'the probe must see the hostname from spec.hostname').toBe('box-02')
    expect(hostname(), 'the host\'s hostname changed: was sethostname() called before unshare(CLONE_NEWUTS)?').toBe(before)
  })

  it('has its own pid, uts and ipc namespaces and shares the others with the host', async () => {
    const { stdout } = await runInNamespaces(probeSpec(['ns']))
    const inside = probeValue<Record<string, string>>(stdout, 'ns')
    const host = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`)
    for (const kind of ['pid', 'uts', 'ipc'])
      expect(inside[kind], `/proc/self/ns/${kind} is the host's: was "${kind}" unshared before fork?`).not.toBe(host(kind))
    for (const kind of ['net', 'mnt', 'user', 'cgroup'])
      expect(inside[kind], `/proc/self/ns/${kind} must stay the host's in this chapter: unshare only what the spec lists`).toBe(host(kind))
  })

  it('keeps an IPC object made inside invisible outside', async () => {
    const key = String(0x2000000 + Math.floor(Math.random() * 0xffffff))
    onCleanup(() => void runProcess(baseSpec([PROBE_PATH, `shm-remove:${key}`]).process, { stdout: 'ignore', stderr: 'ignore' }).catch(() => {}))
    const { stdout } = await runInNamespaces(probeSpec([`shm-create:${key}`, `shm-check:${key}`]))
    expect(probeValue(stdout, 'exists'), 'the shared memory segment must exist inside the container that made it').toBe(true)
    const out = await runCaptured(baseSpec([PROBE_PATH, `shm-check:${key}`]), async () => {})
    expect(probeValue(out.stdout, 'exists'), `shared memory key ${key} made in the container is visible on the host: unshare "ipc"`).toBe(false)
  })

  it('ends every process in the container when PID 1 exits, and relays its exit code', async () => {
    const flag = join(tempDir(), 'started')
    const script = `${PROBE_PATH} write:${flag}:yes sleep:5000 & while [ ! -s ${flag} ]; do :; done; exit 3`
    const spec = probeSpec([])
    spec.process.args = ['/bin/sh', '-c', script]
    let stdout: Readable | null = null
    const code = await runProcess(spec.process, { stdout: 'pipe', stderr: 'ignore' }, async (h) => {
      stdout = h.process.stdout
      stdout!.resume()
      await enterNamespaces(h, spec)
    })
    expect(code, 'the shell (PID 1) exited 3: runProcess must return that').toBe(3)
    expect(existsSync(flag), 'the background process never started').toBe(true)
    const closed = await new Promise<boolean>((resolve) => {
      if (stdout!.readableEnded) return resolve(true)
      stdout!.once('end', () => resolve(true))
      setTimeout(() => resolve(false), 2000)
    })
    expect(closed, 'a background process outlived PID 1 by 2 s and still holds stdout: in a PID namespace the kernel kills every process when PID 1 exits — did the command run after fork()?').toBe(true)
  })

  it('dies with the helper: killing the relay kills PID 1', async () => {
    let pid = 0
    const spec = probeSpec(['sleep:10000'])
    const failing = runProcess(spec.process, { stdout: 'ignore' }, async (h) => {
      pid = await enterNamespaces(h, spec)
      onCleanup(() => alive(pid) && process.kill(pid, 'SIGKILL'))
      throw new Error('prepare failed on purpose')
    })
    expect((await caught(() => failing))?.message).toBe('prepare failed on purpose')
    const gone = await waitFor(() => !alive(pid) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), 2000)
    expect(gone, `PID 1 (host PID ${pid}) survived its relay: ask for SIGKILL on parent death (setParentDeathSignal) right after fork`).toBe(true)
  })

  it('refuses a hostname without a UTS namespace, leaving the hostname untouched', async () => {
    const helper = startHelper()
    await helper.unshare(['uts']) // a sandbox: a broken setHostname renames only this namespace
    await helper.sethostname('sandbox')
    const spec = probeSpec([], ['pid'])
    spec.hostname = 'not-allowed'
    const error = await caught(() => setHostname(helper, spec, ['pid']))
    expect(error, 'setting a hostname without "uts" in the created namespaces must throw a ContainerError').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
  })
})
