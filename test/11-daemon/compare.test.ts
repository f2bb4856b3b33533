/**
 * The same docker commands against minidockerd and against a real dockerd (Debian's 20.10,
 * from temp dirs, no bridge, no iptables): the CLI must print the same and exit the same.
 * Then many `docker run --rm` at once through minidockerd, and nothing left behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeKernel } from '../support/kernel.ts'
import { CLIS, docker, dockerEnv, startDaemonPair, stopDaemonPair, type Cli, type DaemonPair, type Dockerd } from '../support/daemon.ts'

let dir: string
let pair: Partial<DaemonPair> = {}
let ours: Dockerd
let real: Dockerd
let busybox: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-daemon-'))
  pair = await startDaemonPair(dir)
  ;({ ours, real } = pair as DaemonPair)
  busybox = `${pair.registry!.host}/busybox`
}, 120_000)

/** The image in both daemons, pulled once, by the first test that needs it (a starter fails there, not in a hook). */
let pulled: Promise<unknown> | undefined
const ready = () => (pulled ??= (async () => {
  for (const d of [ours, real]) await docker('28.2.2', d.host, ['pull', '-q', busybox])
})())

afterAll(() => stopDaemonPair(pair, dir), 120_000)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** POST `path` on a daemon's socket as a client of the Engine API would: its status and body, or that none came in 5 s. */
function post(d: Dockerd, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ socketPath: d.host.replace(/^unix:\/\//, ''), path, method: 'POST', timeout: 5000 }, (res) => {
      let body = ''
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`))
    })
    req.on('timeout', () => {
      req.destroy()
      resolve('no whole answer in 5 s')
    })
    req.on('error', (error) => resolve(`no answer: ${error.message}`))
    req.end()
  })
}

/**
 * An attach on a daemon's socket as a raw client of the Engine API would send it (`Upgrade:
 * tcp`): everything the daemon sent until it closed the connection, or what it had sent when
 * 5 s had passed without an end.
 */
function rawAttach(d: Dockerd, path: string): Promise<{ ended: boolean; head: string; body: Buffer }> {
  return new Promise((resolve) => {
    const socket = connect(d.host.replace(/^unix:\/\//, ''))
    const chunks: Buffer[] = []
    let done = false
    const finish = (ended: boolean) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const all = Buffer.concat(chunks)
      const split = all.indexOf('\r\n\r\n')
      resolve({ ended, head: split < 0 ? all.toString() : all.subarray(0, split).toString(), body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4) })
    }
    const timer = setTimeout(() => finish(false), 5000)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => finish(true))
    socket.on('error', () => finish(true))
    socket.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`)
  })
}

/**
 * What an attach stream carried: per stream when it is all frames of the multiplexed format
 * (the order of lines across the two streams is the pipes' timing), else the bytes as they came.
 */
function streamsOf(body: Buffer): { stdout: string; stderr: string } | { raw: string } {
  const streams = { stdout: '', stderr: '' }
  for (let at = 0; at < body.length;) {
    const kind = body[at] === 1 ? 'stdout' : body[at] === 2 ? 'stderr' : undefined
    const length = at + 8 <= body.length ? body.readUInt32BE(at + 4) : -1
    if (!kind || length < 0 || at + 8 + length > body.length || body.readUIntBE(at + 1, 3) !== 0) return { raw: body.toString('latin1') }
    streams[kind] += body.subarray(at + 8, at + 8 + length).toString('latin1')
    at += 8 + length
  }
  return streams
}

/** The command through both daemons: ours first (a starter fails there, naming what to write). */
async function both(cli: Cli, args: string[], input?: string) {
  await ready()
  const mine = await docker(cli, ours.host, args, { input, timeout: 20_000 })
  const theirs = await docker(cli, real.host, args, { input, timeout: 20_000 })
  return { mine, theirs }
}

describeKernel('minidockerd and dockerd give the CLI the same answers', () => {
  for (const cli of ['28.2.2', '20.10'] as Cli[]) {
    it(`${cli}: run --rm with -e, -w, -u, -h, stdin, stderr and an exit code`, async () => {
      const commands: [string[], string?][] = [
        [['run', '--rm', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; exit 3']],
        [['run', '--rm', '--network', 'none', '-e', 'A=1', '-w', '/tmp', '-u', '1000', '-h', 'named', busybox, 'sh', '-c', 'echo $A; pwd; id -u; hostname']],
        [['run', '--rm', '-i', '--network', 'none', busybox, 'cat'], 'piped\n'],
        [['run', '--rm', '--network', 'none', '--entrypoint', '/bin/echo', busybox, 'from', 'entrypoint']],
        [['run', '--rm', '--network', 'none', '--init', busybox, 'ps', '-o', 'comm']],
      ]
      for (const [args, input] of commands) {
        const { mine, theirs } = await both(cli, args, input)
        expect({ stdout: mine.stdout, stderr: mine.stderr, exitCode: mine.exitCode }, `docker ${args.join(' ')}: expected what dockerd gives (left: yours)`)
          .toEqual({ stdout: theirs.stdout, stderr: theirs.stderr, exitCode: theirs.exitCode })
      }
    }, 90_000) // ten CLI runs against two daemons: seconds each on a busy machine
  }

  it('start -a and start -ai of an exited container, restart, wait and info, from both CLIs', async () => {
    for (const cli of ['28.2.2', '20.10'] as Cli[]) {
      const name = `again-${cli.replace(/\./g, '')}`
      const reader = `${name}-i`
      const commands: [string[], string?][] = [
        [['create', '--name', name, '--network', 'none', busybox, 'sh', '-c', 'echo hello; exit 3']],
        [['start', '-a', name]],
        [['start', '-a', name]],
        [['restart', '-t', '1', name]],
        [['wait', name]],
        [['create', '-i', '--name', reader, '--network', 'none', busybox, 'cat']],
        [['start', '-ai', reader], 'first\n'],
        [['start', '-ai', reader], 'second\n'],
        [['rm', name, reader]],
      ]
      for (const [args, input] of commands) {
        const { mine, theirs } = await both(cli, args, input)
        const same = (r: typeof mine) => ({ stdout: args[0] === 'create' ? '' : r.stdout, stderr: r.stderr, exitCode: r.exitCode })
        expect(same(mine), `${cli}: docker ${args.join(' ')}: expected what dockerd gives (left: yours)${args[1]?.startsWith('-a') ? ' — the CLI attaches before it starts: what must an attach to a container that is not running do (the text\'s "Attach, wait and the exit")?' : ''}`)
          .toEqual(same(theirs))
      }
      const info = await docker(cli, ours.host, ['info', '--format', '{{.OSType}} {{.Driver}} {{len .Warnings}}'])
      expect(info.stdout, `${cli}: docker info: ${info.stderr}`).toBe('linux overlay2 0\n')
    }
  }, 180_000) // 38 CLI runs against two daemons

  it('docker stop (given code) of a container with its own stop signal, of one given -t -1, of one with its own stop timeout, and -t 0', async () => {
    await ready()
    const cases = [
      { name: 'polite', create: ['--stop-signal', 'USR1'], script: 'trap "exit 7" USR1', stop: ['-t', '3'] },
      { name: 'patient', create: [], script: 'trap "sleep 1; exit 8" TERM', stop: ['-t=-1'] },
      { name: 'brisk', create: ['--stop-timeout', '1'], script: 'trap "" TERM', stop: [] },
      { name: 'hasty', create: ['--stop-timeout', '20'], script: 'trap "" TERM', stop: ['-t', '0'] },
    ]
    const seen: Record<string, Record<string, { code: string; seconds: number }>> = { mine: {}, theirs: {} }
    for (const [who, d] of [['mine', ours], ['theirs', real]] as const) {
      const run = (args: string[]) => docker('28.2.2', d.host, args, { timeout: 30_000 })
      try {
        for (const c of cases) {
          await run(['run', '-d', '--name', c.name, '--network', 'none', ...c.create, busybox, 'sh', '-c', `${c.script}; echo ready; while true; do sleep 0.1; done`])
          // the trap is set once it has said so
          for (let i = 0; i < 100 && !(await run(['logs', c.name])).stdout.includes('ready'); i++) await new Promise((resolve) => setTimeout(resolve, 100))
          const started = Date.now()
          await run(['stop', ...c.stop, c.name])
          const seconds = (Date.now() - started) / 1000
          seen[who]![c.name] = { code: (await run(['inspect', '-f', '{{.State.ExitCode}}', c.name])).stdout.trim(), seconds }
        }
      } finally {
        await run(['rm', '-f', ...cases.map((c) => c.name)])
      }
    }
    const said = (name: string) => `exited ${seen.mine![name]!.code} after ${seen.mine![name]!.seconds.toFixed(1)} s of docker stop`
    // whether minidockerd's ended as dockerd's did (the text's "Stop, kill, rm, ps"); the stop is given, the exit's handling is yours
    const asDockerd = (name: string) => seen.mine[name]!.code === seen.theirs[name]!.code
    expect(asDockerd('polite'), `docker run --stop-signal USR1 of a shell that exits 7 on USR1, then docker stop -t 3: minidockerd's ${said('polite')}, dockerd's otherwise — the stop is given (lib/engine-daemon.ts), and answers once your monitor has handled the exit`).toBe(true)
    expect(asDockerd('patient'), `a shell that takes a second to exit 8 on SIGTERM, then docker stop -t=-1: minidockerd's ${said('patient')}, dockerd's otherwise — the stop is given (lib/engine-daemon.ts), and answers once your monitor has handled the exit`).toBe(true)
    expect(asDockerd('brisk') && seen.mine.brisk!.seconds < 6, `docker run --stop-timeout 1 of a shell that ignores SIGTERM, then docker stop without -t: minidockerd's ${said('brisk')}, dockerd's far sooner — the stop is given (lib/engine-daemon.ts), and answers once your monitor has handled the exit`).toBe(true)
    expect(asDockerd('hasty') && seen.mine.hasty!.seconds < seen.theirs.hasty!.seconds + 5, `docker run --stop-timeout 20 of a shell that ignores SIGTERM, then docker stop -t 0: minidockerd's ${said('hasty')}, dockerd's after ${seen.theirs.hasty!.seconds.toFixed(1)} s — the stop is given (lib/engine-daemon.ts), and answers once your monitor has handled the exit`).toBe(true)
  }, 150_000)

  it('an attach that asks for the logs and no stream, to exited containers with and without a tty', async () => {
    await ready()
    const seen: Record<string, { ended: boolean; head: string; body: string }[]> = { mine: [], theirs: [] }
    for (const [who, d] of [['mine', ours], ['theirs', real]] as const) {
      const run = (args: string[]) => docker('28.2.2', d.host, args, { timeout: 30_000 })
      try {
        await run(['run', '--name', 'said', '--network', 'none', busybox, 'sh', '-c', 'echo out; echo err >&2; echo more'])
        await run(['run', '-t', '--name', 'said-t', '--network', 'none', busybox, 'sh', '-c', 'echo on a tty'])
        for (const [name, query] of [['said', 'logs=1&stream=0&stdout=1&stderr=1'], ['said', 'logs=1&stream=0&stderr=1'], ['said-t', 'logs=1&stream=0&stdout=1&stderr=1']]) {
          const answer = await rawAttach(d, `/v1.41/containers/${name}/attach?${query}`)
          seen[who]!.push({ ended: answer.ended, head: answer.head.split('\r\n')[0]!, body: JSON.stringify(streamsOf(answer.body)) })
        }
      } finally {
        await run(['rm', '-f', 'said', 'said-t'])
      }
    }
    const asked = ['logs=1&stream=0&stdout=1&stderr=1 to a container that wrote out, err and more', 'logs=1&stream=0&stderr=1 to the same', 'logs=1&stream=0&stdout=1&stderr=1 to a -t container']
    seen.mine.forEach((mine, i) => {
      const theirs = seen.theirs[i]!
      const yours = `${mine.ended ? 'an answer that ended' : 'no end within 5 s'}, having sent ${mine.body}`
      // only whether yours answered as dockerd did: its answer is for the learner to ask it (the text's "Attach, wait and the exit")
      expect(mine.ended === theirs.ended && mine.head === theirs.head && mine.body === theirs.body, `POST /containers/ID/attach?${asked[i]} (exited), with Upgrade: tcp: yours sent ${mine.head} and ${yours}; dockerd answered otherwise — what do an attach's logs and stream parameters ask for, and when has an attach nothing more to send (the Engine API reference's ContainerAttach; moby daemon/attach.go)?`).toBe(true)
    })
  }, 120_000)

  it('run of a program that is not there, and of a directory, then start again: the record, containerd, the retry', async () => {
    await ready()
    const seen: Record<string, unknown[]> = { mine: [], theirs: [] }
    for (const [who, d] of [['mine', ours], ['theirs', real]] as const) {
      const run = (args: string[]) => docker('28.2.2', d.host, args, { timeout: 20_000 })
      try {
        for (const [name, program] of [['missing', '/no/such/program'], ['directory', '/etc']] as const) {
          const first = await run(['run', '--name', name, '--network', 'none', busybox, program])
          const record = (await run(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{if .State.Error}}with-error{{end}}', name])).stdout.trim()
          // a retry must meet the same refusal, not a container or task containerd kept from the first try
          const again = await run(['start', name])
          seen[who]!.push({ program, run: first.exitCode, record, retry: again.exitCode, retryNamesProgram: again.stderr.includes(program), alreadyExists: /already exists/.test(again.stderr) })
        }
      } finally {
        await run(['rm', '-f', 'missing', 'directory'])
      }
    }
    expect(seen.mine, 'docker run of /no/such/program and of /etc, then docker start of each again, through minidockerd and through dockerd: the CLI\'s exit code, the record (status, ExitCode, an Error), the retry\'s code and words — what does dockerd record of a start that failed, how does it choose the code from the runtime\'s words (moby daemon/start.go), and what must containerd no longer hold once it failed?').toEqual(seen.theirs)
    const kept = await execa('ctr', ['--address', pair.containerd!.socket, '-n', 'minidocker-test', 'containers', 'ls', '-q'], { reject: false })
    expect(kept.stdout.trim(), 'ctr containers ls in minidockerd\'s namespace after the failed starts were removed: expected nothing — what does a failed start leave in containerd?').toBe('')
  }, 150_000)

  it('two attaches that each pipe a line into a -di container and end their input', async () => {
    await ready()
    const seen: Record<string, string> = {}
    for (const [who, d] of [['mine', ours], ['theirs', real]] as const) {
      try {
        await docker('28.2.2', d.host, ['run', '-di', '--name', 'reader', '--network', 'none', busybox, 'sh', '-c', 'while read line; do echo got:$line; done; echo eof; sleep 30'], { timeout: 20_000 })
        for (const line of ['one', 'two']) {
          // docker attach returns only once the container has exited (it waits for it too): given 4 s, then ended
          await execa(CLIS['28.2.2'], ['attach', '--sig-proxy=false', 'reader'], { env: dockerEnv(d.host), input: `${line}\n`, reject: false, timeout: 4000, killSignal: 'SIGKILL' })
        }
        await new Promise((resolve) => setTimeout(resolve, 500))
        seen[who] = (await docker('28.2.2', d.host, ['logs', 'reader'], { timeout: 20_000 })).stdout
      } finally {
        await docker('28.2.2', d.host, ['rm', '-f', 'reader'], { timeout: 20_000 })
      }
    }
    expect(seen.mine, 'docker logs of a `docker run -di` container that reads lines until its stdin ends, after two `docker attach` each piped one line and ended their input, through minidockerd and through dockerd — whose input ends when one client\'s input ends, and what in the create body tells (docker-attach(1); moby container/stream/attach.go)?').toBe(seen.theirs)
  }, 120_000)

  it('stdin sent to a run whose stdin has ended', async () => {
    await ready()
    const seen: Record<string, { first: number | string; second: number | string }> = {}
    for (const [who, d] of [['mine', ours], ['theirs', real]] as const) {
      // each run counts the lines of its stdin, says when it has ended, waits for the gate, and exits with the count
      const gate = join(dir, `gate-${who}`)
      mkdirSync(gate)
      let attach: ReturnType<typeof execa> | undefined
      try {
        await docker('28.2.2', d.host, ['create', '-i', '--name', 'counter', '--network', 'none', '-v', `${gate}:/gate`, busybox, 'sh', '-c', 'n=$(wc -l); echo stdin ended; while [ ! -e /gate/runs ]; do sleep 0.05; done; exit $n'], { timeout: 20_000 })
        const first = docker('28.2.2', d.host, ['start', '-ai', 'counter'], { input: 'one\n', timeout: 30_000 })
        first.catch(() => {})
        let ended = false
        for (let i = 0; i < 150 && !ended; i++) {
          ended = (await docker('28.2.2', d.host, ['logs', 'counter'], { timeout: 20_000 })).stdout.includes('stdin ended')
          if (!ended) await sleep(100)
        }
        if (!ended) throw new Error(`${who}: the first run never saw the end of its stdin`)
        // while that run still runs: a client attaches, pipes a line and ends its input (docker attach returns at the exit)
        attach = execa(CLIS['28.2.2'], ['attach', '--sig-proxy=false', 'counter'], { env: dockerEnv(d.host), input: 'two\n', reject: false, timeout: 20_000, killSignal: 'SIGKILL' })
        await sleep(2000)
        writeFileSync(join(gate, 'runs'), '')
        const firstCode = (await first).exitCode
        await attach
        const second = await docker('28.2.2', d.host, ['start', '-ai', 'counter'], { input: 'three\n', timeout: 30_000 })
        seen[who] = { first: firstCode, second: second.exitCode }
      } finally {
        attach?.kill('SIGKILL')
        await docker('28.2.2', d.host, ['rm', '-f', 'counter'], { timeout: 20_000 })
      }
    }
    expect(seen.mine, `a -i container that exits with the number of lines it read on its stdin, run twice: \`docker start -ai\` piped "one" into the first run; once that run's stdin had ended, \`docker attach\` piped "two" while it still ran; then \`docker start -ai\` piped "three" into the second run. The CLI's exit codes through your daemon (left) and through dockerd: where did "two" go, and which run was it sent to (the text's "Attach, wait and the exit")?`)
      .toEqual(seen.theirs)
  }, 120_000)

  it('inspect, logs and stop of an unknown name, a name taken twice, kill of a stopped container', async () => {
    for (const args of [['inspect', '--type', 'container', 'nope'], ['logs', 'nope'], ['stop', 'nope']]) {
      const { mine, theirs } = await both('28.2.2', args)
      expect([mine.stderr, mine.exitCode], `docker ${args.join(' ')}: expected dockerd's words and exit code`).toEqual([theirs.stderr, theirs.exitCode])
    }
    await ready()
    const ids: Record<string, string> = {}
    for (const [name, d] of [['mine', ours], ['theirs', real]] as const) {
      ids[name] = (await docker('28.2.2', d.host, ['run', '-d', '--name', 'taken', '--network', 'none', busybox, 'sleep', '30'])).stdout.trim()
    }
    const again = await both('28.2.2', ['run', '-d', '--name', 'taken', '--network', 'none', busybox, 'true'])
    expect([again.mine.stderr.replace(ids.mine!, 'ID'), again.mine.exitCode], 'a second container named "taken": expected dockerd\'s error')
      .toEqual([again.theirs.stderr.replace(ids.theirs!, 'ID'), again.theirs.exitCode])
    const kill = await both('28.2.2', ['kill', '-s', 'KILL', 'taken'])
    expect(kill.mine.exitCode).toBe(kill.theirs.exitCode)
    const wait = await both('28.2.2', ['wait', 'taken'])
    expect(wait.mine.stdout, 'docker wait after kill -s KILL: expected what dockerd prints').toBe(wait.theirs.stdout)
    const killStopped = await both('28.2.2', ['kill', 'taken'])
    expect([killStopped.mine.stderr.replaceAll(ids.mine!, 'ID'), killStopped.mine.exitCode], 'kill of a stopped container: expected dockerd\'s error')
      .toEqual([killStopped.theirs.stderr.replaceAll(ids.theirs!, 'ID'), killStopped.theirs.exitCode])
    const bogus = '/v1.41/containers/taken/wait?condition=bogus'
    expect(await post(ours, bogus), `POST ${bogus}, a condition the Engine API does not have: expected dockerd 20.10's answer (left: yours) — what does a real dockerd answer for it, and which condition is the default?`)
      .toBe(await post(real, bogus))
    await both('28.2.2', ['rm', 'taken'])
  }, 120_000) // a dozen CLI runs against two daemons: seconds each on a busy machine

  it('12 docker run --rm at once', async () => {
    await ready()
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      docker('28.2.2', ours.host, ['run', '--rm', '--network', 'none', '--label', 'batch=concurrent', '-e', `N=${i}`, busybox, 'sh', '-c', `echo run $N; exit ${i % 4}`], { timeout: 90_000 })))
    runs.forEach((r, i) => expect([r.stdout, r.exitCode], `run ${i} of 12 at once: expected its own output and exit code (${r.stderr})`).toEqual([`run ${i}\n`, i % 4]))
    expect((await docker('28.2.2', ours.host, ['ps', '-a', '-q', '--filter', 'label=batch=concurrent'])).stdout, 'docker ps -a after the 12 docker run --rm: expected no container').toBe('')
    const tasks = join(dir, 'containerd', 'state', 'io.containerd.runtime.v2.task', 'minidocker-test')
    const left = (await docker('28.2.2', ours.host, ['ps', '-a', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean)
    expect(readdirSync(tasks).filter((id) => !left.includes(id)), 'containerd\'s tasks after the 12 docker run --rm: expected none left for a removed container (a shim still running?)').toEqual([])
  }, 180_000) // twelve runs sharing two cores: on a loaded machine each takes tens of seconds
})
