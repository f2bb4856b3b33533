/**
 * The real dockerd 20.10 runs minirunc (`--add-runtime minidocker=...`) and runc side by side:
 * dockerd writes the capabilities, no_new_privs and its own default seccomp profile into
 * config.json, and each runtime's container must show the same /proc/self/status lines and
 * the same answers to the calls the profile judges. One dockerd for the file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { NotImplementedError } from '../../lib/errors.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import { dockerdWithProbe, removeAllAndStop, type Dockerd } from '../support/runtime.ts'

let dir: string
let dockerd: Dockerd

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-dockerd-'))
  dockerd = await dockerdWithProbe(dir)
}, 90_000)

afterAll(async () => {
  if (dockerd) await removeAllAndStop(dockerd)
  rmSync(dir, { recursive: true, force: true })
}, 120_000)

const STEPS = ['status', 'personality:8', 'personality:4', 'unshare-user', 'mount-tmpfs:/tmp']

/** `docker run` with `flags` under runc and under minirunc; the probe's lines of each. */
async function both(flags: string[]): Promise<{ ours: Record<string, unknown>[]; runc: Record<string, unknown>[] }> {
  await chapterDone()
  const run = (runtime: string) => dockerd.docker(['run', '--rm', '--runtime', runtime, '--network', 'none', ...flags, 'probe', '/probe', ...STEPS])
  const [ours, runc] = await Promise.all([run('minidocker'), run('runc')])
  expect(runc.code, `docker run --runtime runc ${flags.join(' ')}: ${runc.stderr}`).toBe(0)
  expect(ours.code, `docker run --runtime minidocker ${flags.join(' ')} failed where runc ran: ${ours.stderr}`).toBe(0)
  return { ours: probeLines(ours.stdout), runc: probeLines(runc.stdout) }
}

/** dockerd always asks for capabilities and a profile: without chapter 13 the runtime skips them (and says so in its log). */
let secured: Promise<void> | undefined
const chapterDone = () => (secured ??= (async () => {
  const r = await dockerd.docker(['run', '--rm', '--runtime', 'minidocker', '--network', 'none', 'probe', '/probe', 'status'])
  const status = probeLines(r.stdout)[0]?.status as Record<string, string> | undefined
  if (status?.Seccomp !== '2') throw new NotImplementedError('13-security', 'compileSeccomp')
})())

describeKernel('minirunc under dockerd: capabilities, no_new_privs and docker\'s default profile', () => {
  it('docker run with no security flags, under runc and under minirunc', async () => {
    const r = await both([])
    expect(r.runc.find((l) => 'status' in l), 'runc under dockerd: a filter is loaded').toMatchObject({ status: { Seccomp: '2', NoNewPrivs: '0' } })
    expect(r.ours, 'every line as under runc: the sets, NoNewPrivs, Seccomp, and the profile\'s answers (did docker\'s profile compile, its argument conditions included?)').toEqual(r.runc)
  }, 90_000)

  it('--cap-drop ALL, --cap-add SYS_ADMIN, --security-opt no-new-privileges, seccomp=unconfined: as under runc', async () => {
    for (const flags of [['--cap-drop', 'ALL'], ['--cap-add', 'SYS_ADMIN'], ['--security-opt', 'no-new-privileges'], ['--security-opt', 'seccomp=unconfined']]) {
      const r = await both(flags)
      expect(r.ours, `docker run ${flags.join(' ')}: every line as under runc`).toEqual(r.runc)
    }
  }, 120_000)
})
