// What the docker CLI makes of a run's flags before anything starts: the environment of -e and
// --env-file, and the exit code of its refusals. Each answer is the real docker run's, at test time.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildEnv, dockerExitCode } from '#ch/01-process/process.ts'
import { ContainerError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { probeValue } from '../support/probe.ts'
import { DOCKER, docker, dockerVersion } from '../support/realdocker.ts'
import { execa } from 'execa'

/**
 * The environment the real `docker run` gives the probe for these -e flags, with the client's
 * environment `clientEnv`, less what dockerd adds of its own and no flag asked for (HOSTNAME, HOME).
 */
async function dockerEnv(flags: string[], clientEnv: Record<string, string | undefined> = {}, envFiles: string[] = [], inOrder = false): Promise<string[]> {
  const r = await docker(['run', ...flags.flatMap((f) => ['-e', f]), ...envFiles.flatMap((f) => ['--env-file', f]), 'probe', '/probe', 'env'], clientEnv)
  if (r.code !== 0) throw new Error(`docker run -e ${flags.join(' -e ')} --env-file ${envFiles.join(' --env-file ')} failed: ${r.stderr}`)
  const named = new Set(flags.map((f) => f.split('=')[0]))
  const seen = probeValue<string[]>(r.stdout, 'env')
  return (inOrder ? seen : sorted(seen)).filter((v) => !['HOSTNAME', 'HOME'].includes(v.split('=')[0]!) || named.has(v.split('=')[0]))
}

const sorted = (env: string[]) => [...env].sort()

describe('dockerExitCode', () => {
  it('the first words of real docker runs whose program never ran, message by message', async () => {
    // The probe's image has /etc/passwd without its x bit, and /probe is a file. /usr/bin/true
    // is a program that needs its ELF interpreter, which the image does not have.
    const dir = tempDir()
    writeFileSync(join(dir, 'text'), 'no format the kernel knows\n', { mode: 0o755 })
    const cases = [[[], ['nope']], [[], ['/no/such']], [[], ['/probe/x']], [[], ['/etc/passwd']], [[], ['/etc']], [['-e', 'PATH=/etc'], ['passwd']], [['-w', 'relative'], ['/probe']],
      [['-v', '/usr/bin/true:/dyn:ro'], ['/dyn']], [['-v', `${dir}:/r:ro`, '-e', 'PATH=/r'], ['text']], [['-v', `${dir}:/r:ro`, '-w', '/', '-e', 'PATH=r:/'], ['text']]]
    for (const [flags, command] of cases) {
      const real = await docker(['run', ...flags!, 'probe', ...command!])
      const message = real.stderr.split('\n')[0]!
      expect(dockerExitCode(message), `docker run ${[...flags!, 'probe', ...command!].join(' ')} failed with: ${message}. Which number does docker run exit with after these words, and who chose it: the docker CLI reading them, or a process that ran? ("Exit codes"; toStatusError in cli/command/container/run.go)`).toBe(real.code)
    }
  }, 180_000)
})

// The expected environments are what the real docker CLI, dockerd and runc give the probe for
// the same flags and the same client environment, compared in sorted order.
describe('buildEnv', () => {
  it('no -e flag at all', async () => {
    expect(sorted(buildEnv([]))).toEqual(await dockerEnv([]))
  })

  it('flags -e A=1 -e "B=two words"', async () => {
    expect(sorted(buildEnv(['A=1', 'B=two words']))).toEqual(await dockerEnv(['A=1', 'B=two words']))
  })

  it('flags -e URL=a=b=c -e EMPTY=', async () => {
    const got = buildEnv(['URL=a=b=c', 'EMPTY='])
    expect(sorted(got), '-e URL=a=b=c -e EMPTY=: which "=" ends the name, and what is left for the value? (opts.ValidateEnv in the docker CLI\'s opts/env.go; "The environment")').toEqual(await dockerEnv(['URL=a=b=c', 'EMPTY=']))
  })

  it('flags -e EMPTY=, with EMPTY set on the host', async () => {
    const got = buildEnv(['EMPTY='], { EMPTY: 'from-host' })
    expect(sorted(got), '-e EMPTY=, with EMPTY=from-host on the host: which flags does the docker CLI fill in from the host\'s environment, and is this one of them? (opts.ValidateEnv; "The environment")').toEqual(await dockerEnv(['EMPTY='], { EMPTY: 'from-host' }))
  })

  it('flags -e A=1 -e PATH=/bin -e A=2', async () => {
    const got = buildEnv(['A=1', 'PATH=/bin', 'A=2'])
    expect(sorted(got), '-e A=1 -e PATH=/bin -e A=2: which value of each key does the process see, and which of the three programs decides that? ("The environment")').toEqual(await dockerEnv(['A=1', 'PATH=/bin', 'A=2']))
  })

  it('flags -e HOME -e NOT_ON_HOST, with only HOME on the host', async () => {
    const host = { HOME: '/home/someone' }
    const got = buildEnv(['HOME', 'NOT_ON_HOST'], host)
    expect(sorted(got), '-e HOME -e NOT_ON_HOST, with HOME=/home/someone on the host: what does the docker CLI send on for a bare KEY the host has, and for one it lacks, and what does dockerd make of the second? ("The environment")').toEqual(await dockerEnv(['HOME', 'NOT_ON_HOST'], host))
  })

  it('flags -e A=1 -e A, with A unset on the host', async () => {
    const got = buildEnv(['A=1', 'A'], {})
    expect(sorted(got), '-e A=1 -e A, with no A on the host: what does the docker CLI send dockerd for these two flags, and what does moby\'s ReplaceOrAppendEnvValues make of it? ("The environment")').toEqual(await dockerEnv(['A=1', 'A']))
  })

  it('flags -e PATH, with and without PATH on the host', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['PATH'], {}, '-e PATH, with no PATH on the host: what is left of the default PATH once dockerd merges a bare PATH into its defaults? (ReplaceOrAppendEnvValues in moby\'s container/env.go)'],
      [['PATH=/x', 'A=1', 'PATH'], {}, '-e PATH=/x -e A=1 -e PATH, with no PATH on the host: and of this PATH? (ReplaceOrAppendEnvValues)'],
      [['PATH'], { PATH: '/host/bin' }, '-e PATH, with PATH=/host/bin on the host: what does the docker CLI send on? (opts.ValidateEnv)'],
    ]
    const got = cases.map(([flags, host]) => buildEnv(flags, host))
    for (const [i, [flags, host, message]] of cases.entries()) expect(sorted(got[i]!), message).toEqual(await dockerEnv(flags, host))
  })

  it('flags -e =oops', async () => {
    const error = await caught(() => buildEnv(['A=1', '=oops']))
    expect(error, '-e =oops, whose name is empty: expected a ContainerError (what does the docker CLI do with it? opts.ValidateEnv)').toBeInstanceOf(ContainerError)
    // The docker CLI's own refusal, less the preface its flag parser puts before any flag's error.
    const real = await docker(['run', '-e', '=oops', 'probe'])
    const words = real.stderr.split('\n')[0]!.replace(/^invalid argument ".*" for ".*" flag: /, '')
    expect(error.message, 'the docker CLI\'s own words for -e =oops, to the letter (opts.ValidateEnv in opts/env.go)').toBe(words)
    expect(error.exitCode, 'the docker CLI refuses -e =oops itself: which exit code does `docker run` document for its own errors?').toBe(real.code)
  })
})

/**
 * The longest line the real docker CLI reads in an --env-file, in bytes before its "\n": measured
 * at test time, with no daemon (the CLI reads the file first), by halving.
 */
async function longestLineRead(): Promise<number> {
  const dir = tempDir()
  const refuses = async (n: number) => {
    const file = join(dir, `line-${n}`)
    writeFileSync(file, `A=${'x'.repeat(n - 2)}\nB=2\n`)
    const r = await execa(DOCKER, ['run', '--env-file', file, 'probe'], { env: { DOCKER_HOST: `unix://${dir}/no-daemon.sock` }, extendEnv: false, reject: false, stdin: 'ignore', timeout: 30_000 })
    if (/connect to the Docker daemon|no-daemon\.sock/.test(String(r.stderr))) return false
    if (r.exitCode === 0) throw new Error(`docker run with no daemon exited 0: ${r.stderr}`)
    return true
  }
  let [read, refused] = [2, 1 << 22]
  if (await refuses(read)) throw new Error('the docker CLI refused a two-byte line')
  if (!(await refuses(refused))) return refused // no limit as far as this test looks
  while (refused - read > 1) {
    const mid = Math.floor((read + refused) / 2)
    if (await refuses(mid)) refused = mid
    else read = mid
  }
  return read
}

/** Files with these contents, in a directory of the test's own, as paths for --env-file. */
function envFiles(...contents: (string | Buffer)[]): string[] {
  const dir = tempDir()
  return contents.map((text, i) => {
    const path = join(dir, `env-${i + 1}`)
    writeFileSync(path, text)
    return path
  })
}

const shown = (text: string | Buffer) => JSON.stringify(String(text))

/** buildEnv and the real docker run, on the same --env-file files, flags and client environment. */
async function sameEnv(files: string[], flags: string[], clientEnv: Record<string, string | undefined>, question: string) {
  const got = (() => {
    try {
      return buildEnv(flags, clientEnv, files)
    } catch (error) {
      if (!(error instanceof ContainerError)) throw error
      return [`(refused: ${error.message})`]
    }
  })()
  expect(sorted(got), question).toEqual(await dockerEnv(flags, clientEnv, files))
}

/** buildEnv refuses the files as the real docker run does: a ContainerError, its words, its exit code. */
async function refusedAlike(files: string[], clientEnv: Record<string, string | undefined>, what: string) {
  const error = await caught(() => buildEnv([], clientEnv, files))
  const real = await docker(['run', ...files.flatMap((f) => ['--env-file', f]), 'probe'], clientEnv)
  // The docker CLI's own refusal, less the "docker: " it puts before any error of `run`.
  const words = real.stderr.split('\n')[0]!.replace(/^docker: /, '')
  expect(real.code, `the real docker run accepted ${what}`).not.toBe(0)
  expect(error, `${what}, and ${error ? `"${error.message}" came back` : 'buildEnv accepted it'}: what does the docker CLI do with it? (pkg/kvfile in the docker CLI; "The environment file")`).toBeInstanceOf(ContainerError)
  // The chapter follows the docker CLI 28's words; an older witness (the VM's Debian docker-cli)
  // words the same refusal otherwise, so there only its reason must be found in the CLI's message.
  if ((await dockerVersion()).startsWith('28.'))
    expect(error.message, `${what}: the docker CLI's own words, to the letter, file name included (pkg/kvfile, opts.ReadKVEnvStrings)`).toBe(words)
  else expect(words, `${what}: the reason the docker CLI gives, in "${error.message}" (pkg/kvfile, opts.ReadKVEnvStrings)`).toContain(error.message.replace(/^invalid env file \(.*?\): /, ''))
  expect(error.exitCode, `${what}: which exit code does \`docker run\` document for its own errors?`).toBe(real.code)
}

// --env-file: the same files, flags and client environment through buildEnv and the real docker
// run. Nothing here says what the docker CLI makes of a file: the witness does, at test time.
describe('buildEnv with --env-file', () => {
  it('a file with white space before and after names and values', async () => {
    const text = '   A=1\n\tB= two \nC=three\t\n  D=\n'
    await sameEnv(envFiles(text), [], {}, `--env-file ${shown(text)}: which white space does the docker CLI take away, and which is part of a value? (pkg/kvfile; "The environment file")`)
  })

  it('a file with comments, blank lines and a "#" in the middle of a line', async () => {
    const text = '# a comment\n   # an indented one\n\nA=1 # after a value\nB=#x\n \t \n'
    await sameEnv(envFiles(text), [], {}, `--env-file ${shown(text)}: which lines are comments, and what is a "#" after a value? (pkg/kvfile; "The environment file")`)
  })

  it('a file with quotes, "=" in values and an empty value the host has too', async () => {
    const text = 'Q="x y"\nS=\'z\'\nURL=a=b\nEMPTY=\n'
    await sameEnv(envFiles(text), [], { EMPTY: 'from-host' }, `--env-file ${shown(text)}, with EMPTY=from-host on the host: does the file format quote, and which lines read the host's environment? (pkg/kvfile; "The environment file")`)
  })

  it('a file with bare names: one set on the host, one set empty, one not set, and PATH', async () => {
    const text = 'ON_HOST\n  EMPTY_ON_HOST\nNOT_ON_HOST\nPATH\n'
    await sameEnv(envFiles(text), [], { ON_HOST: 'from-host', EMPTY_ON_HOST: '' }, `--env-file ${shown(text)}, with ON_HOST=from-host and EMPTY_ON_HOST= on the host, and no NOT_ON_HOST or PATH: what does the docker CLI send for a bare name in a file, and is it what it sends for a bare -e? (pkg/kvfile; "The environment file")`)
  })

  it('a file saved on Windows: a byte order mark and CRLF line ends', async () => {
    const text = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('A=1\r\nB=2\r\n\r\n# c\r\nC=3')])
    await sameEnv(envFiles(text), [], {}, `--env-file ${shown(text)} (a UTF-8 byte order mark first): what becomes of the mark, of each "\\r" and of a last line with no line end? (pkg/kvfile; Go's bufio.ScanLines)`)
  })

  it('a byte order mark and a carriage return in the middle of a file', async () => {
    const text = Buffer.concat([Buffer.from('A=1\n'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('B=2\nC=x\ry\n')])
    await sameEnv(envFiles(text), [], {}, `--env-file ${shown(text)}: a byte order mark on the second line, and a "\\r" inside one: which does the docker CLI take away? (pkg/kvfile; "The environment file")`)
  })

  it('lines that begin, or whose names hold, characters other than a space or a tab', async () => {
    // Code points Unicode counts as white space, one language's and not the other's among them.
    const text = '\u0085NEL=1\n\u00a0\u2003NBSP=2\nIN\u00a0NAME=3\n\u3000IDEO=4\n\u000bVT=5\n'
    const escaped = JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    await sameEnv(envFiles(text), [], {}, `--env-file ${escaped}: which of these characters does the docker CLI take from the start of a line, and which may a name hold? (pkg/kvfile; "The environment file")`)
  })

  it('a flag -e C=flag on the command line before two files that set A, B and C', async () => {
    const texts = ['A=1\nB=1\nC=1\nA=again\n', 'B=2\n']
    await sameEnv(envFiles(...texts), ['C=flag'], {}, `-e C=flag, then --env-file ${shown(texts[0]!)} --env-file ${shown(texts[1]!)}: in which order do the docker CLI's lists meet, and which program settles a key named twice? (opts.ReadKVEnvStrings; "The environment file")`)
  })

  it('a file that names a key twice, and PATH, then a flag: the list in the order the process sees it', async () => {
    // The docker CLI sends a file's lines in the file's order, so here the order is fixed: this
    // test, unlike the others, compares the lists as they are, unsorted.
    const text = 'Z=1\nA=1\nZ=2\nPATH=/from-file\n'
    const [files, flags] = [envFiles(text), ['M=1']]
    const real = await dockerEnv(flags, {}, files, true)
    expect(buildEnv(flags, {}, files), `--env-file ${shown(text)} -e M=1: the real docker run gave the process ${JSON.stringify(real)}, in this order. Where does a key named twice end up, with which value, and where does a default that a file replaces? Which of the three programs placed each? (ReplaceOrAppendEnvValues in moby's container/env.go; runc 1.1's libcontainer/init_linux.go; "The environment file")`).toEqual(real)
  })

  it('a bare -e NAME the host lacks, after a file that sets NAME', async () => {
    const cases: [string, string][] = [['A=from-file\n', 'A'], ['PATH=/from-file\n', 'PATH']]
    for (const [text, flag] of cases) await sameEnv(envFiles(text), [flag], {}, `--env-file ${shown(text)} -e ${flag}, with no ${flag} on the host: what reaches dockerd, and what does its merge unset? (ReplaceOrAppendEnvValues in moby's container/env.go; "The environment file")`)
  })

  it('a file whose lines are as long as the docker CLI reads, and longer', async () => {
    const value = (n: number) => 'x'.repeat(n - 'A='.length)
    const longest = await longestLineRead()
    const accepted: [string, string][] = [
      [`A=${value(longest)}\nB=2\n`, 'the longest line the docker CLI reads, before its "\\n"'],
      [`B=2\nA=${value(longest)}`, 'a last line as long, and no "\\n"'],
    ]
    for (const [text, what] of accepted) await sameEnv(envFiles(text), [], {}, `--env-file with ${what}: the real docker run read it; what did you make of it? (pkg/kvfile; "The environment file")`)
    const refused: [string, string][] = [
      [`A=${value(longest + 1)}\nB=2\n`, 'a line one byte longer than the longest the docker CLI reads, before its "\\n"'],
      [`A=${value(longest)}\r\nB=2\n`, 'the longest line the docker CLI reads, and a "\\r" before its "\\n"'],
      [`B=2\nA=${value(longest + 1)}`, 'a last line one byte longer than the longest the docker CLI reads, and no "\\n"'],
    ]
    for (const [text, what] of refused) await refusedAlike(envFiles(text), {}, `--env-file with ${what}: how long a line does the docker CLI's reader take, counting what? (pkg/kvfile; "The environment file")`)
  }, 120_000)

  it('a file line whose name has white space in it', async () => {
    for (const text of ['A B=1\n', 'export A=1\n', 'A =1\n', 'ON_HOST \n'])
      await refusedAlike(envFiles(`OK=1\n${text}`), { ON_HOST: 'from-host' }, `--env-file ${shown(`OK=1\n${text}`)}`)
  })

  it('a file line with no name', async () => {
    for (const text of ['=x\n', '   =x\n']) await refusedAlike(envFiles(text), {}, `--env-file ${shown(text)}`)
  })

  it('a file that is not UTF-8', async () => {
    const text = Buffer.concat([Buffer.from('A=1\nB='), Buffer.from([0xff]), Buffer.from('\n')])
    await refusedAlike(envFiles(text), {}, `--env-file with the bytes [${[...text].join(' ')}]`)
  })

  it('a file that is missing, and one that is a directory', async () => {
    await refusedAlike([join(tempDir(), 'missing.env')], {}, '--env-file of a file that does not exist')
    await refusedAlike([tempDir()], {}, '--env-file of a directory')
  })
})

