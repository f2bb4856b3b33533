/**
 * minidocker as a client of the real dockerd (Debian's 20.10, from temp dirs, no bridge),
 * beside the docker CLI 28.2.2 against the same daemon: the same output and exit codes, the
 * run failures 125, 126 and 127 included, and the same containers and images seen.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { difference, firstDifference, maskTimes, RESULTS } from './differences.ts'
import { CLIS, docker, dockerEnv, imageRegistry, removeDir, startRealDockerd, type Dockerd } from '../support/daemon.ts'
import { asMinidocker, endInTerminal, loggingProxy, masked, MINIDOCKER, minidocker, typeInTerminal, type Proxy } from '../support/client.ts'
import type { Registry } from '../support/registry.ts'

let dir: string
let registry: Registry
let real: Dockerd
let proxy: Proxy
let busybox: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-client-'))
  registry = await imageRegistry()
  real = await startRealDockerd(join(dir, 'real'), registry.host)
  proxy = await loggingProxy(dir, real.host.slice('unix://'.length))
  busybox = `${registry.host}/busybox`
  await docker('28.2.2', real.host, ['pull', '-q', busybox]) // the pull's progress is not what the tests compare
}, 120_000)

afterAll(async () => {
  await proxy?.stop()
  if (real) {
    const left = await docker('28.2.2', real.host, ['ps', '-a', '-q']).catch(() => undefined)
    for (const id of left?.stdout.split('\n').filter(Boolean) ?? []) await docker('28.2.2', real.host, ['rm', '-f', id]).catch(() => {})
    await real.stop()
  }
  await registry?.stop()
  if (dir) removeDir(dir)
}, 120_000)

vi.setConfig({ testTimeout: 60_000 })

async function both(args: string[], input?: string) {
  const mine = await minidocker(['-H', real.host, ...args], { input })
  const theirs = await docker('28.2.2', real.host, args, { input, timeout: 30_000 })
  return { mine, theirs }
}

/** What each of a run's results depends on, asked of the one that differs first. */
const ASKED = [
  ['stdout', 'stdout', 'which of the run\'s three ends (the attach\'s, the wait\'s, start\'s) had yours waited for when it returned, and which had docker\'s?'],
  ['stderr', 'stderr', 'whose words are these, and which end decides when they are printed, before or after the container\'s own?'],
  ['exitCode', 'exit code', 'which end decides the exit code, and which ends say nothing about it?'],
] as const

/** What a run in a terminal left: its exit code, whether the terminal's mode came back, what the terminal got. */
const IN_TERMINAL = [
  ['code', 'exit code (undefined: not ended)', ''],
  ['restored', 'terminal mode given back (stty -g the same after as before)', ''],
  ['output', 'terminal output, byte for byte as the terminal got it', ''],
] as const

describeKernel('minidocker as a client of the real dockerd, beside the docker CLI', () => {
  it('run: sh exiting 3, -i cat, --entrypoint, a command that does not exist, /etc/passwd as the command', async () => {
    for (const [args, input] of [
      [['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3']],
      [['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'piped\n'],
      [['run', '--rm', '--network', 'none', '--entrypoint', '/bin/echo', busybox, 'from', 'entrypoint']],
      [['run', '--rm', '--network', 'none', busybox, 'no-such-command']],
      [['run', '--rm', '--network', 'none', busybox, '/etc/passwd']],
    ] as [string[], string?][]) {
      const { mine, theirs } = await both(args, input)
      const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected what docker gives, its name read as minidocker: ${differs} — which exit code does docker run give when the container's command cannot be started, and how does the CLI tell the cases apart? (see "Exit codes"; docker run's reference)`)
    }
  }, 150_000) // ten runs, each client's first one pulling: on a loaded machine over a minute

  it('run -d whose start fails, with and without --rm, and run -it whose stdin is no terminal: beside the docker CLI', async () => {
    await docker('28.2.2', real.host, ['pull', '-q', busybox])
    const id = (text: string) => text.replace(/\b[a-f0-9]{64}\b/g, 'ID')
    for (const [args, question] of [
      [['run', '-d', '--network', 'none', busybox, 'no-such-command'], 'with -d, when is the ID printed, and what does a start that failed leave to say? (see "The run sequence")'],
      [['run', '-d', '--rm', '--network', 'none', busybox, 'no-such-command'], 'with -d and --rm, what is there to wait for once the start failed, and what is printed? (see "The run sequence")'],
      [['run', '--rm', '-it', '--network', 'none', busybox, 'true'], 'stdin is a pipe here, not a terminal: what can -it not do then, and what did docker 28.2.2 make of it? (see "The ways out of run -it")'],
    ] as [string[], string][]) {
      const mine = await minidocker(['-H', real.host, ...args])
      const theirs = await docker('28.2.2', real.host, args)
      const differs = firstDifference({ ...mine, stdout: id(mine.stdout) }, { ...theirs, stdout: id(theirs.stdout), stderr: asMinidocker(theirs.stderr) }, RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected what docker gives, its name read as minidocker and IDs as ID: ${differs} — ${question}`)
    }
  })

  it('run -it, the detach keys typed once the wait has answered while the output\'s tail is still held back: beside the docker CLI', async () => {
    await docker('28.2.2', real.host, ['pull', '-q', busybox])
    const [attach, wait] = [/\/attach\?/, /\/wait\?/]
    const seen: Record<string, { output: string; code?: number }> = {}
    for (const client of ['docker', 'minidocker'] as const) {
      const name = `late-${client}`
      const args = ['run', '-it', '--name', name, '--network', 'none', busybox, 'sh', '-c', 'echo ready; echo tail; exit 5']
      proxy.clear()
      // the output after "ready" waits until the wait has answered and the keys have been typed
      proxy.meddle({ route: attach, after: 'ready', hold: proxy.answered(wait).then(() => sleep(2000)) })
      const waited = proxy.answered(wait)
      const argv = client === 'minidocker' ? [process.execPath, MINIDOCKER, '-H', proxy.host, ...args] : [CLIS['28.2.2'], ...args]
      seen[client] = await typeInTerminal(argv, [0x10, 0x11], { ready: 'ready', env: { ...dockerEnv(proxy.host), MINIDOCKER_HOST: '' }, before: waited, deadline: 8000 })
      proxy.clear()
      await docker('28.2.2', real.host, ['rm', '-f', name])
    }
    const late = firstDifference(seen.minidocker!, seen.docker!, [IN_TERMINAL[0], IN_TERMINAL[2]])
    if (late) expect.fail(`the container had exited and the wait had answered when ctrl-p ctrl-q were typed, its last output still on its way: ${late} — type the same at docker 28.2.2 (see "Detach keys")`)
  }, 90_000)

  it('run -d, ps, images, logs, exec, kill, rm: docker\'s output, and both see the same containers and images', async () => {
    const started = await minidocker(['-H', real.host, 'run', '-d', '--name', 'shared', '--network', 'none', busybox, 'sh', '-c', 'echo to-out; echo to-err >&2; sleep 30'])
    expect([started.exitCode, started.stderr], 'run -d: expected exit 0 and nothing on stderr').toEqual([0, ''])
    const id = started.stdout.trim()
    expect((await docker('28.2.2', real.host, ['ps', '-q', '--no-trunc'])).stdout.split('\n'), 'expected docker ps to list what minidocker started').toContain(id)
    await new Promise((r) => setTimeout(r, 300))
    const images = await both(['images'])
    const table = difference('stdout', images.mine.stdout, images.theirs.stdout)
    if (table) expect.fail(`images: expected docker's table exactly: ${table}`)
    for (const args of [['ps'], ['ps', '-a', '-q'], ['logs', 'shared'], ['exec', 'shared', 'sh', '-c', 'echo in; exit 5']]) {
      const { mine, theirs } = await both(args)
      const masks = (r: typeof mine) => ({ stdout: masked(r.stdout), stderr: masked(r.stderr), exitCode: r.exitCode })
      const differs = firstDifference(masks(mine), masks(theirs), RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected docker's output (IDs and times masked): ${differs}`)
    }
    for (const args of [['kill', '-s', 'KILL', 'shared'], ['rm', 'shared']]) {
      const mine = await minidocker(['-H', real.host, ...args])
      expect([mine.stdout, mine.stderr, mine.exitCode], `minidocker ${args.join(' ')}: expected the name echoed`).toEqual(['shared\n', '', 0])
    }
    expect((await docker('28.2.2', real.host, ['ps', '-a', '-q', '--no-trunc'])).stdout, 'expected the container gone for docker too').not.toContain(id)
  })

  it('run -it --detach-keys ctrl-@,ctrl-[ typed at key by key, beside the docker CLI: the bytes the container gets, the detach, the container running on', async () => {
    const [NUL, ESC, CTRL_P, CTRL_Q] = [0x00, 0x1b, 0x10, 0x11]
    const a = (c: string) => c.charCodeAt(0)
    // a match broken by another byte, the CLI's default keys as plain input, a match broken by
    // the sequence's own first byte, then the whole sequence
    const keys = [a('a'), NUL, a('b'), CTRL_P, CTRL_Q, NUL, NUL, ESC, a('c'), NUL, ESC]
    await docker('28.2.2', real.host, ['pull', '-q', busybox]) // the pull's progress is not what is compared
    const seen: Record<string, { output: string; code?: number; attach: Record<string, string>; sent: string; running: string; got: string }> = {}
    for (const client of ['minidocker', 'docker'] as const) {
      const name = `detach-${client}`
      const args = ['run', '-it', '--name', name, '--detach-keys', 'ctrl-@,ctrl-[', '--network', 'none', busybox, 'sh', '-c', 'stty raw -echo; echo ready; exec cat >/got']
      proxy.requests.length = 0
      proxy.hijacked.length = 0
      const argv = client === 'minidocker' ? [process.execPath, MINIDOCKER, '-H', proxy.host, ...args] : [CLIS['28.2.2'], ...args]
      const typed = await typeInTerminal(argv, keys, { ready: 'ready', env: { ...dockerEnv(proxy.host), MINIDOCKER_HOST: '' } })
      const attach = proxy.hijacked.find(([request]) => /\/attach\?/.test(request))
      const inspect = await docker('28.2.2', real.host, ['inspect', '-f', '{{.State.Running}}', name])
      const got = await docker('28.2.2', real.host, ['exec', name, 'cat', '/got'])
      seen[client] = {
        ...typed,
        attach: Object.fromEntries(new URLSearchParams(attach?.[0].split('?')[1] ?? '')),
        sent: Buffer.concat(attach?.[1] ?? []).toString('hex'),
        running: inspect.stdout.trim(),
        got: Buffer.from(got.stdout, 'latin1').toString('hex'),
      }
      await docker('28.2.2', real.host, ['rm', '-f', name])
    }
    const [mine, theirs] = [seen.minidocker!, seen.docker!]
    expect(theirs.running, 'the docker CLI itself did not leave the container running: the witness is broken').toBe('true')
    const query = difference('attach query', mine.attach, theirs.attach)
    if (query) expect.fail(`expected the attach request's query that docker sends: ${query} — who else watches the keys typed, and how does it learn which ones? (see "Detach keys")`)
    const code = difference('exit code (undefined: it had not ended 6 s after the last key)', mine.code, theirs.code)
    if (code) expect.fail(`expected minidocker to end once the detach keys were typed, with docker's exit code: ${code}; output: ${JSON.stringify(mine.output)} — did ctrl-@ and ctrl-[ become the bytes a terminal sends for them, and does the client stop waiting when they come? (see "Detach keys")`)
    const got = difference('bytes the container read, in hex', mine.got, theirs.got)
    if (got) expect.fail(`expected the container to have read what docker's did (typed: ${Buffer.from(keys).toString('hex')}): ${got} — which of the bytes typed did yours hold back, and when did it let them go? Type the same at the real CLI (see "Detach keys")`)
    const sent = difference('bytes sent on the attach, in hex', mine.sent, theirs.sent)
    if (sent) expect.fail(`expected the bytes sent on the attach connection to be docker's: ${sent} — the daemon watches for the keys too and hides them from the container, so the container cannot tell you: what did your client send that docker's did not, or the other way round? (see "Detach keys")`)
    expect(mine.running, 'expected the container still running after the detach').toBe('true')
    const shown = difference('terminal output', mine.output, theirs.output)
    if (shown) expect.fail(`expected what the terminal showed to be what docker's showed: ${shown}`)
  })

  it('run -it ended by SIGTERM, by SIGHUP, by the daemon\'s connection cut, by a start that fails after the attach, by an attach refused: beside the docker CLI', async () => {
    await docker('28.2.2', real.host, ['pull', '-q', busybox])
    const traps = 'trap "echo got-TERM; exit 42" TERM; trap "echo got-HUP; exit 43" HUP; echo ready; while true; do sleep 0.1; done'
    const runIt = ['run', '--rm', '-it', '--network', 'none']
    const ways: { way: string; args: string[]; act?: () => string | void | Promise<void>; question: string }[] = [
      { way: 'SIGTERM to the client', args: [...runIt, busybox, 'sh', '-c', traps], act: () => 'TERM', question: 'with -t, whose is a SIGTERM the client gets, and does the client live on to report the exit? Is the terminal given back when the run ends, whoever ended it? (see "The ways out of run -it"; run.go, sigProxy)' },
      { way: 'SIGHUP to the client', args: [...runIt, busybox, 'sh', '-c', traps], act: () => 'HUP', question: 'does SIGHUP go where SIGTERM goes, and is the terminal back in its mode from before? (see "The ways out of run -it")' },
      { way: 'the daemon\'s connections cut under the client', args: ['run', '-it', '--name', 'cut-CLIENT', '--network', 'none', busybox, 'sh', '-c', 'echo ready; sleep 30'], act: () => Promise.race([started, sleep(20_000)]).then(() => proxy.cut()), question: 'the attach and the wait both end without an answer: what does the CLI print, with which exit code, and is the terminal back before it prints? (see "The ways out of run -it"; utils.go, waitExitOrRemoved)' },
      { way: 'a start that fails after the attach', args: [...runIt, busybox, 'no-such-command'], question: 'the start failed once the attach had answered: when did your terminal go raw, and was it back before the error was printed (a line printed while raw has no carriage return)? (see "The ways out of run -it")' },
      { way: 'an attach refused (keys the daemon cannot read)', args: [...runIt, '--detach-keys', 'ctrl-P', busybox, 'true'], question: 'the daemon refused the attach and no container ran: what had your client done to the terminal by then, and how did its error reach the screen? (see "The ways out of run -it")' },
    ]
    // the cut comes once start has answered: cut before, the run ends on start's failure instead
    let started: Promise<void> = Promise.resolve()
    for (const { way, args, act, question } of ways) {
      const seen: Record<string, { output: string; code?: number; restored: boolean }> = {}
      for (const client of ['minidocker', 'docker'] as const) {
        proxy.clear()
        started = proxy.answered(/\/start$/)
        const named = args.map((a) => a.replace('CLIENT', client))
        const argv = client === 'minidocker' ? [process.execPath, MINIDOCKER, '-H', proxy.host, ...named] : [CLIS['28.2.2'], ...named]
        const ended = await endInTerminal(argv, { ready: act ? 'ready' : '\0', env: { ...dockerEnv(proxy.host), MINIDOCKER_HOST: '' }, act })
        // left out of the comparison: a log line's time, and, when the daemon goes away, the
        // lines docker 28.2.2 prints or not from run to run (which of its connections ends first)
        let output = maskTimes(ended.output)
        if (act === ways[2]!.act) output = output.replace(/\r/g, '').replace(/^[^\n]*error during connect[^\n]*\n(\nRun '[^'\n]*--help' for more information\n)?/gm, '')
        seen[client] = { ...ended, output: client === 'docker' ? asMinidocker(output) : output }
      }
      await docker('28.2.2', real.host, ['rm', '-f', 'cut-minidocker', 'cut-docker'])
      const differs = firstDifference(seen.minidocker!, seen.docker!, IN_TERMINAL)
      if (differs) expect.fail(`run -it, ${way}: expected docker's exit code, terminal (stty -g the same after as before) and words, byte for byte as the terminal got them: ${differs} — ${question} Try the same at docker 28.2.2.`)
    }
  }, 180_000) // ten runs in a terminal, one after another

  it('run --rm whose daemon answers out of order, beside the docker CLI: start answered only after the exit, the output\'s tail held back past the wait\'s answer, the attach cut mid-output, the wait cut, start failing after the output', async () => {
    await docker('28.2.2', real.host, ['pull', '-q', busybox])
    const args = ['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo before; sleep 2; echo after; echo err >&2; exit 7']
    const [attach, wait, start] = [/\/attach\?/, /\/wait\?/, /\/start$/]
    const ways: { way: string; meddle: () => void; question: string }[] = [
      {
        way: 'start\'s answer held back until the wait has answered and the attach has ended',
        meddle: () => proxy.meddle({ route: start, hold: Promise.all([proxy.answered(wait), proxy.answered(attach)]) }),
        question: 'the output and the exit came before start\'s 204: was anything of yours waiting for start\'s answer before it read the others, and where did your exit code come from? (see "Answers out of order")',
      },
      {
        way: 'the attach\'s frames after "before" held back until a second after the wait has answered',
        meddle: () => proxy.meddle({ route: attach, after: 'before\n', hold: proxy.answered(wait).then(() => sleep(1000)) }),
        question: 'the wait answered while the attach was still open: what did the wait\'s answer tell you, and what did it not? (see "Answers out of order")',
      },
      {
        way: 'the attach closed by the daemon\'s side after "before", the container running on',
        meddle: () => proxy.meddle({ route: attach, cut: 'before\n' }),
        question: 'the output ended, but did the container? Where does the exit code come from, and what is the end of the attach stream a sign of? (see "Answers out of order")',
      },
      {
        way: 'the wait\'s connection cut once "before" has come, the container running on',
        meddle: () => proxy.meddle({ route: wait, cut: proxy.carried(attach, 'before\n') }),
        question: 'the wait failed while the output still came: when does the CLI say so, and does it stop copying the output then? (see "Answers out of order"; utils.go, waitExitOrRemoved, and where run.go reads its channel)',
      },
      {
        way: 'start answering 500 once the attach has carried "before"',
        meddle: () => proxy.meddle({ route: start, hold: proxy.carried(attach, 'before\n'), fail: { status: 500, message: 'the start was refused after all' } }),
        question: 'the container runs and has written, but the start failed: what does the CLI do with the attach, what does --rm make it wait for, and which error, with which code, ends the run? (see "Answers out of order")',
      },
    ]
    for (const { way, meddle, question } of ways) {
      const seen: Record<string, { stdout: string; stderr: string; exitCode: number }> = {}
      for (const client of ['docker', 'minidocker'] as const) {
        proxy.clear()
        meddle()
        const result = client === 'minidocker' ? await minidocker(['-H', proxy.host, ...args]) : await docker('28.2.2', proxy.host, args, { timeout: 40_000 })
        const stderr = maskTimes(result.stderr)
        seen[client] = { stdout: result.stdout, stderr: client === 'docker' ? asMinidocker(stderr) : stderr, exitCode: result.exitCode }
      }
      proxy.clear()
      const differs = firstDifference(seen.minidocker!, seen.docker!, ASKED)
      if (differs) expect.fail(`run --rm, ${way}: ${differs} — ${question}`)
    }
  }, 120_000)

  it('run -i with --detach-keys the daemon cannot read, beside the docker CLI', async () => {
    // each refusal leaves a container created, as docker's does: the clean-up removes them
    for (const keys of ['ctrl-P', 'ctrl-p,ctrl-']) {
      const args = ['run', '--rm', '-i', '--detach-keys', keys, '--network', 'none', busybox, 'echo', 'started']
      const mine = await minidocker(['-H', real.host, ...args])
      const theirs = await docker('28.2.2', real.host, args)
      const differs = firstDifference(mine, { ...theirs, stderr: asMinidocker(theirs.stderr) }, RESULTS)
      if (differs) expect.fail(`minidocker ${args.join(' ')}: expected what docker gives: ${differs} — who refuses these keys, at which request, and in whose words does the CLI pass that on? (see "Detach keys")`)
    }
  })
})
