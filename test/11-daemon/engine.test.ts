import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { apiPath, errorStatus, EngineError } from '#ch/11-daemon/api.ts'
import { findContainer, newContainer, type Container } from '#ch/11-daemon/records.ts'
import { frame, logWriter, outputReaders, readLog } from '#ch/11-daemon/streams.ts'
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
  it('takes /v1.41/..., /v1.24/... and no prefix as the same route', () => {
    for (const [path, route] of [['/v1.41/containers/json', '/containers/json'], ['/v1.24/images/json', '/images/json'], ['/_ping', '/_ping']])
      expect(apiPath(path).route, `expected ${path} to be the route ${route} — is the /vN.NN prefix taken off (and only it)?`).toBe(route)
  })
  it('refuses a version newer than the daemon serves, as moby\'s version middleware does', async () => {
    const error = await caught(() => apiPath('/v1.50/containers/json'))
    expect(error, 'expected /v1.50/... to be refused — does apiPath compare the version with API_VERSION?').toBeInstanceOf(EngineError)
    expect(errorStatus(error), 'expected a version the daemon cannot serve to be answered as the client\'s mistake, not the daemon\'s (the text\'s "Rules for every request", httpstatus/status.go)').toBe(400)
    expect(error.message, 'expected dockerd\'s words for a client that is too new (apiPath\'s doc comment)').toMatch(/client version 1\.50 is too new\. Maximum supported API version is 1\.41/)
  })
  it('refuses a version older than the daemon serves, however few digits its minor has (1.9, 1.11)', async () => {
    for (const version of ['1.11', '1.9']) {
      const error = await caught(() => apiPath(`/v${version}/containers/json`))
      expect(error, `expected /v${version}/... to be refused as too old`).toBeInstanceOf(EngineError)
      expect(error.message, `expected /v${version}/... to be too old, not too new — are the versions compared as numbers (major, then minor), not as decimals or strings?`)
        .toBe(`client version ${version} is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version`)
    }
    expect(apiPath('/v1.12/info').route, 'expected 1.12, the minimum, to be served').toBe('/info')
  })
})

describe('multiplexed stream frames', () => {
  it('frames a payload so that the CLI\'s stdcopy reads it back', () => {
    const payload = Buffer.alloc(300, 'x')
    const f = frame('stderr', payload)
    expect([...f.subarray(0, 8)], `expected the header stdcopy reads for 300 bytes of stderr, saw [${[...f.subarray(0, 8)]}] — compare with moby's pkg/stdcopy StdWriter (the text's "Frames and the json-file log"): which byte names the stream, where does the length go, and is it big-endian, the network's order, not x86's?`).toEqual([2, 0, 0, 0, 0, 0, 1, 44])
    expect(f.subarray(8).equals(payload), 'expected the payload whole after the header').toBe(true)
    expect(frame('stdout', Buffer.from('hi\n'))[0], 'expected stdout named as stdcopy numbers it').toBe(1)
  })
})

describe('the output FIFOs', () => {
  it('opens its read ends at once without blocking, delivers what the writer writes, and drains when it closes', async () => {
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
      expect(Date.now() - began, 'expected outputReaders to return at once, but it blocked in open() until a writer came: the shim opens its write end only after Tasks.Create, which a daemon stuck here never sends (fifo(7); the text\'s "Start, and the FIFOs")').toBeLessThan(2000)
      expect(readers.length).toBe(2)
      for (const [stream, text] of [['stdout', 'hi\n'], ['stderr', 'oops\n']] as const) {
        let fd: number
        try {
          fd = openSync(paths[stream], constants.O_WRONLY | constants.O_NONBLOCK)
        } catch (error) {
          throw new Error(`expected the read end of ${stream}'s FIFO open when outputReaders returns, so that the shim's open succeeds: ${(error as Error).message}`)
        }
        writeSync(fd, text)
        closeSync(fd)
      }
      const late = new Promise<string>((resolve) => setTimeout(() => resolve('late'), 3000).unref())
      expect(await Promise.race([Promise.all(readers.map((r) => r.drained)).then(() => 'drained'), late]), 'expected drained to resolve once the writer has closed its end').toBe('drained')
      expect(got, 'expected each stream\'s bytes delivered under its own name').toEqual({ stdout: 'hi\n', stderr: 'oops\n' })
    } finally {
      rescue.kill()
      for (const r of readers) r.socket.destroy()
    }
  })
})

describe('the json-file log', () => {
  it('writes one entry per line, keeps a partial line until its end comes, and reads with tail', () => {
    const file = join(temp(), 'x-json.log')
    const log = logWriter(file)
    log.write('stdout', Buffer.from('one\ntw'))
    log.write('stderr', Buffer.from('err\n'))
    log.write('stdout', Buffer.from('o\nthree'))
    log.close()
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.stream, l.log]), 'expected one JSON entry per line, a line split across writes joined — does the writer keep the rest of a chunk until its newline?')
      .toEqual([['stdout', 'one\n'], ['stderr', 'err\n'], ['stdout', 'two\n'], ['stdout', 'three']])
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    const all = { stdout: true, stderr: true, tail: 'all', since: 0, timestamps: false }
    expect(readLog(file, { ...all, stderr: false }).entries.map((e) => e.log), 'expected only stdout entries with stderr=0').toEqual(['one\n', 'two\n', 'three'])
    expect(readLog(file, { ...all, tail: '2' }).entries.map((e) => e.log), 'expected the last 2 entries with tail=2').toEqual(['two\n', 'three'])
    expect(readLog(file, { ...all, tail: '0' }).entries, 'expected nothing with tail=0').toEqual([])
    expect(readLog(file, { ...all, timestamps: true }).entries[0]!.log).toMatch(/^\d{4}-\S+Z one\n$/)
  })
  it('reads only whole lines of a log still being written, and a follower goes on from the offset', () => {
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
        throw new Error(`expected a log whose last line is still being written to be read up to its last newline, but its half line was parsed: ${error.message}`)
      }
    }
    const first = read()
    expect(first.entries.map((e) => e.log)).toEqual(['one\n'])
    expect(first.offset, 'expected the offset to stop at the end of the last whole line, where the follower goes on').toBe(Buffer.byteLength(line('one\n')))
    appendFileSync(file, line('two\n').slice(20))
    expect(read(first.offset).entries.map((e) => e.log), 'expected the follower to read the finished line from the offset, once').toEqual(['two\n'])
  })
})

describe('container records', () => {
  const make = (name: string | undefined, existing: Container[] = [], body: object = {}) =>
    newContainer(temp(), { Image: 'busybox', ...body }, image, name, existing)

  it('merges the image config under the request: Env by key, Cmd, WorkingDir, and the files of ROOT/containers/ID', () => {
    const c = make('web', [], { Env: ['A=run'], Cmd: ['echo', 'hi'] })
    expect(c.Name).toBe('/web')
    expect(c.ID).toMatch(/^[a-f0-9]{64}$/)
    expect(c.Config.Env, 'expected the request\'s A=run to replace the image\'s A=image').toEqual(['PATH=/bin', 'A=run'])
    expect([c.Path, ...c.Args]).toEqual(['echo', 'hi'])
    expect(c.Config.WorkingDir).toBe('/w')
    expect(c.LogPath.endsWith(`/containers/${c.ID}/${c.ID}-json.log`), `expected the log at ROOT/containers/ID/ID-json.log, saw ${c.LogPath}`).toBe(true)
    const entry = make(undefined, [], { Entrypoint: ['/probe'] })
    expect([entry.Path, ...entry.Args], `expected a create with Entrypoint ["/probe"] and no Cmd, on an image whose Cmd is ["sh"], to run what dockerd runs for \`docker run --entrypoint /probe IMAGE\`, but the container would run ${JSON.stringify([entry.Path, ...entry.Args])} — see docker-run(1)'s --entrypoint, or try it on a real dockerd`).toEqual(['/probe'])
  })
  it('refuses a name another container has, in dockerd\'s words', async () => {
    const first = make('web')
    const error = await caught(() => make('web', [first]))
    expect(errorStatus(error), `expected a name in use to be refused as a conflict, as dockerd's reserveName does (newContainer's doc comment), saw ${error === undefined ? 'no error' : `${errorStatus(error)} ${error.message}`} — is the name looked up among the existing containers?`).toBe(409)
    expect(error.message, 'expected dockerd\'s words for a name in use').toBe(`Conflict. The container name "/web" is already in use by container "${first.ID}". You have to remove (or rename) that container to be able to reuse that name.`)
  })
  it('finds a container by full ID, by name, and by a unique ID prefix; otherwise "No such container"', async () => {
    const a = make('aa')
    const b = make('bb')
    expect(findContainer([a, b], a.ID)).toBe(a)
    expect(findContainer([a, b], 'bb')).toBe(b)
    expect(findContainer([a, b], '/bb')).toBe(b)
    expect(findContainer([a, b], b.ID.slice(0, 6)), 'expected a 6-hex prefix to find its container').toBe(b)
    const twins = [{ ...a, ID: `abc1${a.ID.slice(4)}` }, { ...b, ID: `abc2${b.ID.slice(4)}` }]
    const ambiguous = await caught(() => findContainer(twins, 'abc'))
    expect(errorStatus(ambiguous), 'expected a prefix of two IDs to be refused, not to pick one of them').toBe(400)
    expect(ambiguous.message).toBe('Multiple IDs found with provided prefix: abc')
    const error = await caught(() => findContainer([a, b], 'nope'))
    expect(errorStatus(error), 'expected an unknown container answered as missing, so that the CLI can act on it (the text\'s "Rules for every request")').toBe(404)
    expect(error.message, 'expected dockerd\'s words (findContainer\'s doc comment)').toBe('No such container: nope')
  })
})
