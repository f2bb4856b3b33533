/**
 * The pure pieces given to chapter 11 (lib/engine-api.ts, lib/container-records.ts,
 * lib/output-streams.ts): the API version in the path, frames, the output FIFOs, the json-file
 * log and container records, judged by the real docker CLI where it reads them.
 */
import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { apiPath, errorStatus, EngineError } from '../../lib/engine-api.ts'
import { findContainer, newContainer, type Container } from '../../lib/container-records.ts'
import { frame, logWriter, outputReaders, readLog } from '../../lib/output-streams.ts'
import { docker } from '../support/daemon.ts'
import { caught } from '../support/errors.ts'

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'minidocker-test-'))
  dirs.push(d)
  return d
}
const image = { id: 'sha256:' + 'a'.repeat(64), config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' as const, diff_ids: [] }, config: { Env: ['PATH=/bin', 'A=image'], Cmd: ['sh'], WorkingDir: '/w' } } }

describe('the API version in the path', () => {
  it('/v1.41/containers/json, /v1.24/images/json and /_ping', () => {
    for (const [path, route] of [['/v1.41/containers/json', '/containers/json'], ['/v1.24/images/json', '/images/json'], ['/_ping', '/_ping']])
      expect(apiPath(path).route, `apiPath(${path}): expected the route ${route} — what does the CLI put in front of a route (the text's "Rules for every request")?`).toBe(route)
  })
  it('/v1.50/containers/json, from a client newer than the daemon', async () => {
    const error = await caught(() => apiPath('/v1.50/containers/json'))
    expect(error, 'apiPath(/v1.50/containers/json): expected an EngineError — which versions can this daemon not serve (moby api/server/middleware/version.go)?').toBeInstanceOf(EngineError)
    expect(errorStatus(error), 'apiPath(/v1.50/...): expected the status dockerd answers with — whose mistake is it (the text\'s "Rules for every request"; moby api/server/httpstatus/status.go)?').toBe(400)
    expect(error.message, 'apiPath(/v1.50/...): expected dockerd\'s words (moby api/server/middleware/version.go)').toMatch(/client version 1\.50 is too new\. Maximum supported API version is 1\.41/)
  })
  it('/v1.11/... and /v1.9/..., from clients older than the daemon', async () => {
    for (const version of ['1.11', '1.9']) {
      const error = await caught(() => apiPath(`/v${version}/containers/json`))
      expect(error, `apiPath(/v${version}/...): expected an EngineError`).toBeInstanceOf(EngineError)
      expect(error.message, `apiPath(/v${version}/...): expected dockerd's words — how does your comparison order 1.9, 1.11, 1.12 and 1.41 (moby api/types/versions)?`)
        .toBe(`client version ${version} is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version`)
    }
    expect(apiPath('/v1.12/info').route, 'apiPath(/v1.12/info): expected the route').toBe('/info')
  })
})

describe('multiplexed stream frames', () => {
  it('300 bytes of stderr, and hi on stdout', async () => {
    const payload = Buffer.alloc(300, 'x')
    const body = Buffer.concat([frame('stderr', payload), frame('stdout', Buffer.from('hi\n'))])
    // the judge is the real docker CLI: a stand-in daemon answers its `docker logs x` with these frames, and the CLI splits them
    const socket = join(temp(), 'stand-in.sock')
    const server = createServer((req, res) => {
      const headers = { 'Api-Version': '1.41', 'Content-Type': 'application/json' }
      if (req.url!.endsWith('/_ping')) res.writeHead(200, headers).end(req.method === 'GET' ? 'OK' : undefined)
      else if (req.url!.includes('/logs?')) res.writeHead(200, { ...headers, 'Content-Type': 'application/vnd.docker.raw-stream' }).end(body)
      else if (req.url!.endsWith('/containers/x/json')) res.writeHead(200, headers).end(JSON.stringify({ Id: 'x', Config: { Tty: false } }))
      else res.writeHead(404, headers).end(JSON.stringify({ message: `not in this stand-in: ${req.method} ${req.url}` }))
    })
    await new Promise<void>((resolve) => server.listen(socket, resolve))
    try {
      // a length read in the wrong byte order is hundreds of megabytes, which the CLI allocates before it fails
      const shown = await docker('28.2.2', `unix://${socket}`, ['logs', 'x'], { timeout: 60_000 })
      expect({ stdout: shown.stdout, stderr: shown.stderr === payload.toString() ? '300 x' : shown.stderr.slice(0, 200), exitCode: shown.exitCode },
        `docker logs (the real CLI 28.2.2) read frame('stderr', 300 bytes of x) then frame('stdout', 'hi\\n') and did not show them as written — how does it split the stream back into stdout and stderr: what does each byte of a frame's header tell it, and in which byte order (moby api/pkg/stdcopy/stdcopy.go, StdCopy; the text's "Frames and the json-file log")?`)
        .toEqual({ stdout: 'hi\n', stderr: '300 x', exitCode: 0 })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  }, 90_000)
})

describe('the output FIFOs', () => {
  it('two FIFOs that no writer has opened yet, then a writer that writes and closes', async () => {
    const dir = temp()
    const paths = { stdout: join(dir, 'init-stdout'), stderr: join(dir, 'init-stderr') }
    execFileSync('mkfifo', [paths.stdout, paths.stderr])
    // a reader that blocks in open() would hang this test for good: this process opens both FIFOs after 3 s to free it
    const rescue = spawn(process.execPath, ['-e', `const fs = require('fs'); setTimeout(() => { fs.openSync(${JSON.stringify(paths.stdout)}, 'r+'); fs.openSync(${JSON.stringify(paths.stderr)}, 'r+'); setTimeout(() => {}, 2000) }, 3000)`], { stdio: 'ignore' })
    const got: Record<string, string> = { stdout: '', stderr: '' }
    let readers: ReturnType<typeof outputReaders> = []
    try {
      const began = Date.now()
      readers = outputReaders(paths, (stream, chunk) => (got[stream] += chunk.toString()))
      expect(Date.now() - began, 'expected outputReaders to return while no writer had the FIFOs open, but it waited for one (this test opens them after 3 s) — what does open(2) of a FIFO do then, and can your daemon wait for the shim (fifo(7); the text\'s "Start, and the FIFOs")?').toBeLessThan(2000)
      expect(readers.length).toBe(2)
      for (const [stream, text] of [['stdout', 'hi\n'], ['stderr', 'oops\n']] as const) {
        let fd: number
        try {
          fd = openSync(paths[stream], constants.O_WRONLY | constants.O_NONBLOCK)
        } catch (error) {
          throw new Error(`a writer's non-blocking open of ${stream}'s FIFO after outputReaders returned: ${(error as Error).message} (fifo(7))`)
        }
        writeSync(fd, text)
        closeSync(fd)
      }
      const late = new Promise<string>((resolve) => setTimeout(() => resolve('late'), 3000).unref())
      expect(await Promise.race([Promise.all(readers.map((r) => r.drained)).then(() => 'drained'), late]), 'the writer wrote and closed its ends: expected drained to resolve').toBe('drained')
      expect(got, 'expected what the writer wrote to each FIFO').toEqual({ stdout: 'hi\n', stderr: 'oops\n' })
    } finally {
      rescue.kill()
      for (const r of readers) r.close()
    }
  })
})

describe('the json-file log', () => {
  it('writes to stdout, stderr and stdout that cut a line in two, then reads with stderr off, tail and timestamps', () => {
    const file = join(temp(), 'x-json.log')
    const log = logWriter(file)
    log.write('stdout', Buffer.from('one\ntw'))
    log.write('stderr', Buffer.from('err\n'))
    log.write('stdout', Buffer.from('o\nthree'))
    log.close()
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.stream, l.log]), 'expected the entries a real dockerd logs for a line split across two writes of stdout, with one of stderr between them — what is in each chunk, and what belongs to which line (moby daemon/logger/copier.go)?')
      .toEqual([['stdout', 'one\n'], ['stderr', 'err\n'], ['stdout', 'two\n'], ['stdout', 'three']])
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    const all = { stdout: true, stderr: true, tail: 'all', since: 0, timestamps: false }
    expect(readLog(file, { ...all, stderr: false }).entries.map((e) => e.log), 'readLog with stderr false: expected what docker logs 2>/dev/null shows').toEqual(['one\n', 'two\n', 'three'])
    expect(readLog(file, { ...all, tail: '2' }).entries.map((e) => e.log), 'readLog with tail \'2\': expected what docker logs --tail 2 shows (docker-logs(1))').toEqual(['two\n', 'three'])
    expect(readLog(file, { ...all, tail: '0' }).entries, 'readLog with tail \'0\': expected what docker logs --tail 0 shows (docker-logs(1); try it)').toEqual([])
    expect(readLog(file, { ...all, timestamps: true }).entries[0]!.log).toMatch(/^\d{4}-\S+Z one\n$/)
  })
  it('a log whose last line is half written, then finished', () => {
    const file = join(temp(), 'x-json.log')
    const line = (log: string) => `${JSON.stringify({ log, stream: 'stdout', time: '2024-01-01T00:00:00Z' })}\n`
    const half = line('two\n').slice(0, 20)
    writeFileSync(file, line('one\n') + half)
    const all = { stdout: true, stderr: true, tail: 'all', since: 0, timestamps: false }
    const read = (from?: number) => {
      try {
        return readLog(file, all, from)
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error
        throw new Error(`readLog of a log whose last line is half written threw: ${error.message} — which bytes can be parsed while the writer is mid-line (the text's "Frames and the json-file log")?`)
      }
    }
    const first = read()
    expect(first.entries.map((e) => e.log)).toEqual(['one\n'])
    expect(first.offset, 'a log whose last line is half written: expected the offset a follower goes on from').toBe(Buffer.byteLength(line('one\n')))
    appendFileSync(file, line('two\n').slice(20))
    expect(read(first.offset).entries.map((e) => e.log), 'the line finished: expected readLog from that offset to give it').toEqual(['two\n'])
  })
})

describe('container records', () => {
  const make = (name: string | undefined, existing: Container[] = [], body: object = {}) =>
    newContainer(temp(), { Image: 'busybox', ...body }, image, name, existing)

  it('Env A=run and a Cmd on an image with A=image, Cmd sh and WorkingDir /w; then an Entrypoint alone', () => {
    const c = make('web', [], { Env: ['A=run'], Cmd: ['echo', 'hi'] })
    expect(c.Name).toBe('/web')
    expect(c.ID).toMatch(/^[a-f0-9]{64}$/)
    expect(c.Config.Env, 'expected the environment of docker run -e A=run on this image, in the order dockerd keeps it (docker-run(1)\'s -e; moby\'s merge in daemon/commit.go)').toEqual(['A=run', 'PATH=/bin'])
    expect([c.Path, ...c.Args]).toEqual(['echo', 'hi'])
    expect(c.Config.WorkingDir).toBe('/w')
    expect(c.LogPath.endsWith(`/containers/${c.ID}/${c.ID}-json.log`), `expected LogPath where dockerd keeps a container's json-file log (ls /var/lib/docker/containers/ID on a real dockerd), saw ${c.LogPath}`).toBe(true)
    const entry = make(undefined, [], { Entrypoint: ['/probe'] })
    expect([entry.Path, ...entry.Args], `expected a create with Entrypoint ["/probe"] and no Cmd, on an image whose Cmd is ["sh"], to run what dockerd runs for \`docker run --entrypoint /probe IMAGE\`, but the container would run ${JSON.stringify([entry.Path, ...entry.Args])} — see docker-run(1)'s --entrypoint, or try it on a real dockerd`).toEqual(['/probe'])
  })
  it('a second container named web', async () => {
    const first = make('web')
    const error = await caught(() => make('web', [first]))
    expect(errorStatus(error), `a second container named web: expected dockerd's answer (moby daemon/names.go reserveName), saw ${error === undefined ? 'no error' : `${errorStatus(error)} ${error.message}`}`).toBe(409)
    expect(error.message, 'a second container named web: expected dockerd\'s words').toBe(`Conflict. The container name "/web" is already in use by container "${first.ID}". You have to remove (or rename) that container to be able to reuse that name.`)
  })
  it('refs: a full ID, a name with and without /, a 6-hex prefix, the start of two IDs, an unknown name', async () => {
    const a = make('aa')
    const b = make('bb')
    expect(findContainer([a, b], a.ID)).toBe(a)
    expect(findContainer([a, b], 'bb')).toBe(b)
    expect(findContainer([a, b], '/bb')).toBe(b)
    expect(findContainer([a, b], b.ID.slice(0, 6)), 'ref: the first 6 hex digits of bb\'s ID').toBe(b)
    const twins = [{ ...a, ID: `abc1${a.ID.slice(4)}` }, { ...b, ID: `abc2${b.ID.slice(4)}` }]
    const ambiguous = await caught(() => findContainer(twins, 'abc'))
    expect(errorStatus(ambiguous), 'ref "abc", the start of two IDs: expected dockerd\'s answer (moby daemon/container.go GetContainer, pkg/truncindex)').toBe(400)
    expect(ambiguous.message).toBe('Multiple IDs found with provided prefix: abc')
    const error = await caught(() => findContainer([a, b], 'nope'))
    expect(errorStatus(error), 'ref "nope": expected the status dockerd answers with (the text\'s "Rules for every request"; moby daemon/errors.go)').toBe(404)
    expect(error.message, 'ref "nope": expected dockerd\'s words (moby daemon/errors.go)').toBe('No such container: nope')
  })
})
