/**
 * minidockerd and the real dockerd 20.10, each running runc, given the same `docker run`
 * security flags: the containers must see the same capability sets, NoNewPrivs and Seccomp
 * lines, and get the same answers to the calls Docker's default profile judges. What differs
 * would be the daemon's config.json, which lib/docker-security.ts's containerSecurity (given
 * code, chapter 13's daemon side) writes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { docker, startDaemonPair, stopDaemonPair, type DaemonPair, type Dockerd } from '../support/daemon.ts'
import { probeLines } from '../support/probe.ts'

let dir: string
let pair: Partial<DaemonPair> = {}
let ours: Dockerd
let real: Dockerd
let probe: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-'))
  pair = await startDaemonPair(dir)
  ;({ ours, real } = pair as DaemonPair)
  probe = `${pair.registry!.host}/probe`
  for (const d of [ours, real]) await docker('28.2.2', d.host, ['pull', '-q', probe])
}, 120_000)

afterAll(() => stopDaemonPair(pair, dir), 120_000)

const STEPS = ['status', 'personality:8', 'personality:4', 'unshare-user', 'mount-tmpfs:/tmp', 'open-write:/proc/sys/kernel/core_pattern']

/** `docker run FLAGS probe` through both daemons; the probe's lines of each. */
async function both(flags: string[]) {
  const args = ['run', '--rm', '--network', 'none', ...flags, probe, '/probe', ...STEPS]
  const [mine, theirs] = await Promise.all([ours, real].map((d) => docker('28.2.2', d.host, args, { timeout: 30_000 })))
  expect(theirs!.exitCode, `dockerd: docker ${args.join(' ')}: ${theirs!.stderr}`).toBe(0)
  expect(mine!.exitCode, `minidockerd: docker ${args.join(' ')} failed where dockerd ran it: ${mine!.stderr}`).toBe(0)
  return { mine: probeLines(mine!.stdout), theirs: probeLines(theirs!.stdout) }
}

describeKernel('minidockerd and dockerd: the same protections for the same flags', () => {
  it('docker run with no security flags, beside dockerd', async () => {
    const r = await both([])
    expect(r.mine, 'every line as through dockerd (left: yours) — what does dockerd put in config.json when docker run says nothing? (the chapter\'s "The daemon\'s defaults")').toEqual(r.theirs)
  })

  it('--cap-drop, --cap-add, --security-opt no-new-privileges, seccomp=unconfined and seccomp=FILE', async () => {
    const profile = join(dir, 'profile.json')
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22 }] }))
    const cases = [
      ['--cap-drop', 'ALL'], ['--cap-drop', 'chown', '--cap-drop', 'CAP_KILL'], ['--cap-drop', 'ALL', '--cap-add', 'net_bind_service'],
      ['--cap-add', 'SYS_ADMIN'], ['--security-opt', 'no-new-privileges'], ['--security-opt', 'seccomp=unconfined'], ['--security-opt', `seccomp=${profile}`],
    ]
    for (const flags of cases) {
      const r = await both(flags)
      expect(r.mine, `docker run ${flags.join(' ')}: every line as through dockerd (left: yours)`).toEqual(r.theirs)
    }
  }, 180_000)

  it('--cap-add NOT_A_CAP and --security-opt bogus=1', async () => {
    for (const flags of [['--cap-add', 'NOT_A_CAP'], ['--security-opt', 'bogus=1']]) {
      const r = await docker('28.2.2', ours.host, ['run', '--rm', '--network', 'none', ...flags, probe, '/probe', 'out:ran'], { timeout: 30_000 })
          expect(r.stdout, `docker run ${flags.join(' ')} must not run the container`).not.toContain('ran')
      expect(r.exitCode, `docker run ${flags.join(' ')} must fail`).not.toBe(0)
      expect(r.stderr, 'the error names what was refused').toMatch(/NOT_A_CAP|bogus=1/)
    }
  }, 60_000)
})
