/**
 * The client's given requests (lib/engine-client.ts, lib/create-or-pull.ts) without a real
 * daemon: a small HTTP server on a unix socket answers as dockerd would, and the docker CLIs,
 * asked the same, say what a client sends.
 */
import { writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { execa } from 'execa'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../../lib/engine-client.ts'
import { readAll } from '../../lib/client.ts'
import { connectError, negotiate } from '../../lib/engine-client.ts'
import { createContainer, pullImage } from '../../lib/create-or-pull.ts'
import type { JSONMessage } from '../../lib/jsonmessage.ts'
import { docker } from '../support/daemon.ts'
import { fakeDaemons, type FakeDaemon, type FakeDaemonOptions } from '../support/engine-server.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'

const daemons = fakeDaemons()
afterEach(() => daemons.stop())
const fakeDaemon = (options: FakeDaemonOptions) => daemons.daemon(options)
const connected = (daemon: FakeDaemon) => daemons.connected(daemon)

describe('the Engine API client\'s given requests', () => {
  it('negotiate with Api-Version 1.41, 1.47, 1.9, 1.40, 1.100, and none, beside docker 20.10', async () => {
    const announced = ['1.41', '1.47', '1.9', '1.40', '1.100', undefined]
    const theirs: string[] = []
    for (const version of announced) {
      const daemon = await fakeDaemon({ version, answer: (_req, res) => res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"not served here"}') })
      await docker('20.10', daemon.host, ['version'])
      theirs.push(/^GET \/v([^/]+)\/version$/.exec(daemon.requests.at(-1) ?? '')?.[1] ?? `(no versioned request: ${daemon.requests.join(', ')})`)
    }
    expect(announced.map((a) => negotiate(a)), `for Api-Version ${announced.map((a) => a ?? '(none)').join(', ')}: expected the version docker 20.10, which speaks 1.41 as minidocker does, put in its paths (left: yours, right: docker's) — how does moby compare two API versions? (see "Ping and the version")`)
      .toEqual(theirs)
  })

  it('call against a daemon announcing 1.40: a JSON answer, a streaming answer, a JSON 404, a plain-text 500', async () => {
    let finish!: () => void
    const daemon = await fakeDaemon({
      version: '1.40',
      answer: (req, res) => {
        if (req.url!.includes('/logs')) {
          res.writeHead(200).write('first\n')
          finish = () => res.end('last\n')
        } else if (req.url!.includes('/json?all=1')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]')
        else if (req.url!.includes('/nope/')) res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: nope"}\n')
        else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('page not found\n')
      },
    })
    const engine = await connected(daemon)
    expect(await engine.json('GET', '/containers/json', { query: { all: '1' } }), 'expected the JSON answer').toEqual([])
    expect(daemon.requests, 'expected the requests\' paths (left: yours) — which version does every path after the ping carry? (see "Ping and the version")').toEqual(['HEAD /_ping', 'GET /v1.40/containers/json?all=1'])

    const streaming = await Promise.race([engine.call('GET', '/containers/c/logs'), new Promise((r) => setTimeout(() => r('still waiting'), 5_000))])
    expect(streaming, 'expected call() to resolve at the headers of a streaming answer, its body unread (a pull or logs -f streams for minutes)').not.toBe('still waiting')
    finish()
    expect(await readAll(streaming as IncomingMessage), 'expected the whole body still there to read').toBe('first\nlast\n')

    const json = await caught(() => engine.call('GET', '/containers/nope/json'))
    expect([json?.message, json?.status], 'a 404 with {"message"}: expected a DaemonError with the daemon\'s message and status').toEqual(['Error response from daemon: No such container: nope', 404])
    const plain = await caught(() => engine.call('GET', '/other'))
    expect(plain?.message, 'an error body that is not JSON: expected the daemon\'s text as the message, not a JSON parse error').toBe('Error response from daemon: page not found')
  })

  it('no daemon at the socket, at the ping and after it, beside the docker CLI', async () => {
    const dir = tempDir('minidocker-client-')
    /** docker ps's stderr and exit code with DOCKER_HOST naming `socket` */
    const theirs = async (socket: string) => {
      const r = await docker('28.2.2', `unix://${socket}`, ['ps'])
      return [r.stderr.trim(), r.exitCode]
    }
    const stale = join(dir, 'stale.sock') // a socket file its server left behind
    await execa(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`])
    const plain = join(dir, 'plain')
    writeFileSync(plain, '')
    for (const [what, socket] of [['no file at the path', join(dir, 'nothing.sock')], ['a socket file nobody listens on', stale], ['a plain file', plain]] as const) {
      const atPing = await caught(() => Engine.connect(`unix://${socket}`))
      expect([atPing?.message, atPing?.exitCode], `${what}, at the ping: expected the CLI's words, not the errno (left: yours, right: docker ps's stderr and exit code)`).toEqual(await theirs(socket))
    }

    const daemon = await fakeDaemon({ version: '1.41' })
    const engine = await connected(daemon)
    daemon.server.closeAllConnections()
    await new Promise((r) => daemon.server.close(r))
    const later = await caught(() => engine.call('GET', '/containers/json'))
    expect(later?.message, 'the daemon went away after the ping: expected from call() what docker now says for that socket').toBe((await theirs(daemon.socket))[0])

    const other = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    expect(connectError('/s', other), 'an error that is not "no daemon" must stay as it is').toBe(other)
  })

  it('pullImage of a stream whose chunks cut its JSON lines, and of one carrying errorDetail', async () => {
    const lines = ['{"status":"Pulling from library/probe","id":"latest"}', '{"status":"Downloading","progressDetail":{"current":10,"total":20},"id":"0123456789ab"}']
    const auth: (string | undefined)[] = []
    const daemon = await fakeDaemon({
      version: '1.41',
      answer: (req, res) => {
        auth.push(req.headers['x-registry-auth'] as string | undefined)
        res.writeHead(200, { 'Content-Type': 'application/json' })
        const pieces = req.url!.includes('fromImage=example.test%2Fbroken')
          ? [`${lines[0]}\n{"errorDetail":{"message":"manifest unknown"},`, '"error":"manifest unknown"}\n']
          : [lines[0]!.slice(0, 20), `${lines[0]!.slice(20)}\n${lines[1]!.slice(0, 30)}`, `${lines[1]!.slice(30)}\n`]
        const next = () => (pieces.length > 1 ? (res.write(pieces.shift()), setTimeout(next, 30)) : res.end(pieces.shift()))
        next()
      },
    })
    await docker('20.10', daemon.host, ['pull', '-q', 'example.test/probe'])
    const theirs = { request: daemon.requests.at(-1), auth: auth.at(-1) }
    const engine = await connected(daemon)
    const seen: JSONMessage[] = []
    const error = await caught(() => pullImage(engine, 'example.test/probe', (m) => seen.push(m)))
    expect(daemon.requests.at(-1), 'expected the request docker 20.10 sent for docker pull example.test/probe (left: yours, right: docker\'s; see "Pulling")').toBe(theirs.request)
    const mine = auth.at(-1)
    if (mine !== theirs.auth) {
      expect.fail(`the X-Registry-Auth header of your pull of example.test/probe is not docker 20.10's: yours ${mine === undefined ? 'was not sent' : `was ${JSON.stringify(mine)}, which, read as base64, is ${JSON.stringify(Buffer.from(mine, 'base64').toString('latin1'))}`} — what does the CLI send when it has no credentials for that registry, and in what encoding? (see "Pulling"; moby's client/image_pull.go)`)
    }
    expect({ seen, error: error && String(error) }, 'expected each JSON message once, whole and in order (left: yours) — where do the chunks end, and what becomes of a line a chunk cut? (see "Pulling")')
      .toEqual({ seen: lines.map((l) => JSON.parse(l)), error: undefined })
    const failed = await caught(() => pullImage(engine, 'example.test/broken', () => {}))
    expect(failed?.message, 'a 200 whose stream carries errorDetail: expected the pull to fail with its message').toBe('manifest unknown')
  })

  it('createContainer refused by the daemon, answer by answer, beside docker 28.2.2', async () => {
    /** each run's daemon answers every create with one of these: [status, Content-Type, body] */
    const answers = [
      [500, 'application/json', '{"message":"No such image: example.test/probe:latest"}'],
      [404, 'application/json', '{"message":"network nope not found"}'],
      [409, 'application/json', '{"message":"Conflict. The container name \\"/x\\" is already in use by container \\"0123456789ab\\". You have to remove (or rename) that container to be able to reuse that name."}'],
      [404, 'text/plain; charset=utf-8', '404 page not found\n'],
    ] as const
    for (const [status, type, body] of answers) {
      const daemon = await fakeDaemon({
        version: '1.41',
        answer: (req, res) => {
          // a client that never stops asking is stopped here, so that its requests can be shown
          if (daemon.requests.length > 12) res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"the test\'s daemon stops answering"}')
          else if (req.url!.includes('/images/create')) res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"Pulling from library/probe","id":"latest"}\n')
          else res.writeHead(status, { 'Content-Type': type }).end(body)
        },
      })
      const cli = await docker('28.2.2', daemon.host, ['run', '--name', 'x', '--network', 'nope', 'example.test/probe', 'true'])
      const theirs = daemon.requests.splice(0)
      const engine = await connected(daemon)
      const stdio = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() }
      const plan = { image: 'example.test/probe', name: 'x', config: { Image: 'example.test/probe', Cmd: ['true'], HostConfig: { NetworkMode: 'nope' } }, detach: false, interactive: false, tty: false, autoRemove: false, sigProxy: true }
      const error = await caught(() => createContainer(engine, plan, stdio, () => {}))
      const answered = `the daemon answered every create ${status} (${type}) ${body.trim()}`
      expect(daemon.requests, `${answered}: expected docker run's requests up to its failure (left: yours, right: docker's) — which answer of the daemon should lead to a pull, and what in it does the CLI look at to decide? (see "The run sequence"; the CLI's create.go)`)
        .toEqual(theirs)
      expect(error?.message, `${answered}: expected the error docker printed after "docker: " (left: yours)`).toBe(/^docker: (.*)$/m.exec(cli.stderr)?.[1])
    }
  })
})
