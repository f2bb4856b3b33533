import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildEnv, exitCode, runProcess, searchPath, startProcess } from '#ch/01-process/process.ts'
import { ContainerError } from '../../lib/errors.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper, SyscallError } from '../../native/helper.ts'
import { caught } from '../support/errors.ts'
import { startHelper } from '../support/helper.ts'
import { captureFile, tempDir } from '../support/files.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

const proc = (args: string[], extra: Partial<Process> = {}): Process => ({
  args,
  env: [DEFAULT_PATH],
  cwd: '/',
  ...extra,
})

const PROBE_DIR = dirname(PROBE_PATH)

/**
 * What is left of process `pid`: undefined when it is gone, 'dying' when it is a zombie (dead,
 * not yet reaped) or has a signal pending, 'alive' otherwise.
 */
function leftOf(pid: number): 'dying' | 'alive' | undefined {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const field = (name: string) => status.match(new RegExp(`^${name}:\\s*(\\S+)`, 'm'))?.[1] ?? ''
  const pending = [field('SigPnd'), field('ShdPnd')].some((mask) => /[1-9a-f]/.test(mask))
  return field('State') === 'Z' || pending ? 'dying' : 'alive'
}

/** Run with stdout and stderr captured into files. */
async function run(process: Process) {
  const out = captureFile('stdout')
  const err = captureFile('stderr')
  const code = await runProcess(process, { stdout: out.fd, stderr: err.fd })
  return { code, stdout: out.read(), stderr: err.read() }
}

/** Run, and on failure keep the error, so an assertion can name it. */
async function runOrError(process: Process): Promise<{ stdout: string; error?: Error }> {
  const out = captureFile('stdout')
  const error = await caught(() => runProcess(process, { stdout: out.fd, stderr: 'ignore' }))
  return { stdout: out.read(), error }
}

describe('exitCode', () => {
  it('returns the exit code of a process that exited', () => {
    expect(exitCode({ code: 0, signal: null })).toBe(0)
    expect(exitCode({ code: 3, signal: null })).toBe(3)
  })

  it('reports a process killed by a signal as docker run does', () => {
    expect(exitCode({ code: null, signal: 9 }), 'killed by SIGKILL (9): not the exit code docker run gives (see "Exit codes")').toBe(137)
    expect(exitCode({ code: null, signal: 15 }), 'killed by SIGTERM (15): not the exit code docker run gives (see "Exit codes")').toBe(143)
  })
})

describe('buildEnv', () => {
  it('gives Docker\'s default PATH when no flag sets one', () => {
    expect(buildEnv([])).toEqual([DEFAULT_PATH])
  })

  it('sets KEY=value flags in order, after PATH', () => {
    expect(buildEnv(['A=1', 'B=two words'])).toEqual([DEFAULT_PATH, 'A=1', 'B=two words'])
  })

  it('splits at the first "=" only and keeps empty values', () => {
    expect(buildEnv(['URL=a=b=c', 'EMPTY=']), 'URL=a=b=c sets URL to "a=b=c": split at the first "=" only').toEqual([DEFAULT_PATH, 'URL=a=b=c', 'EMPTY='])
  })

  it('keeps an empty value even when the host has the KEY', () => {
    expect(buildEnv(['EMPTY='], { EMPTY: 'from-host' }), '-e EMPTY= sets EMPTY to the empty string: only a bare EMPTY, with no "=", copies the host\'s value (an empty string is a value, not a missing one)').toEqual([DEFAULT_PATH, 'EMPTY='])
  })

  it('lets a later flag replace an earlier one, PATH included, in its first position', () => {
    expect(buildEnv(['A=1', 'PATH=/bin', 'A=2'])).toEqual(['PATH=/bin', 'A=2'])
  })

  it('copies a bare KEY from the host, and adds nothing for a KEY the host lacks', () => {
    expect(buildEnv(['HOME', 'NOT_ON_HOST'], { HOME: '/root' }), 'docker run -e HOME copies the host\'s HOME').toEqual([
      DEFAULT_PATH,
      'HOME=/root',
    ])
  })

  it('keeps an earlier KEY=value when a bare KEY the host lacks follows, as dockerd does', () => {
    expect(
      buildEnv(['A=1', 'A'], {}),
      '-e A=1 -e A, with no A on the host: Docker\'s container keeps A=1 (what does moby\'s ReplaceOrAppendEnvValues do with a KEY that has no "="?)',
    ).toEqual([DEFAULT_PATH, 'A=1'])
  })

  it('unsets the default PATH for a bare -e PATH when the host has no PATH, as dockerd does', () => {
    expect(buildEnv(['PATH'], {}), '-e PATH, with no PATH on the host: Docker\'s container has no PATH at all (ReplaceOrAppendEnvValues)').toEqual([])
    expect(buildEnv(['PATH=/x', 'A=1', 'PATH'], {}), '-e PATH=/x -e A=1 -e PATH, with no PATH on the host: no PATH either').toEqual(['A=1'])
    expect(buildEnv(['PATH'], { PATH: '/host/bin' }), 'with a host PATH, a bare PATH copies it').toEqual(['PATH=/host/bin'])
  })

  it('refuses a flag with no name, with the docker CLI\'s message and 125', async () => {
    const error = await caught(() => buildEnv(['A=1', '=oops']))
    expect(error, '-e =oops names no variable: a ContainerError').toBeInstanceOf(ContainerError)
    expect(error.message, 'the docker CLI (opts.ValidateEnv) says: invalid environment variable: =oops').toBe('invalid environment variable: =oops')
    expect(error.exitCode, 'the docker CLI refuses -e =oops itself: which exit code does `docker run` document for its own errors?').toBe(125)
  })
})

describe('searchPath', () => {
  it('lists DIR/NAME for each directory of the PATH in the container\'s env, in order', () => {
    expect(searchPath('tool', ['A=1', 'PATH=/first:/second/bin']), 'the PATH to search is the one in the env argument').toEqual(['/first/tool', '/second/bin/tool'])
  })

  it('never uses the host\'s PATH: without PATH in the container\'s env there is nothing to try', () => {
    expect(searchPath('ls', ['HOME=/root']), "nothing to try, but got files: is process.env.PATH (the host's) being searched?").toEqual([])
  })

  it('takes a name with a slash as it is, without searching', () => {
    expect(searchPath('/bin/sh', [DEFAULT_PATH]), 'a name with a slash is a path: it is not searched on the PATH').toEqual(['/bin/sh'])
    expect(searchPath('./run.sh', [DEFAULT_PATH]), 'a relative path with a slash names a file, it is not searched').toEqual(['./run.sh'])
  })


  it('never offers a file that depends on the working directory or is not on the PATH', () => {
    expect(
      searchPath('tool', ['PATH=:/first::bin:/second:']),
      'PATH=:/first::bin:/second: has empty entries and a relative one: what does each name to execvp(3), and what does runc (Go\'s exec.LookPath) do with a program found there?',
    ).toEqual(['/first/tool', '/second/tool'])
  })
})

describe('startProcess', () => {
  it('creates a missing working directory as the container sees the filesystem, as runc does', async () => {
    const root = tempDir() // the helper's root below: the container's filesystem is not Node's
    copyFileSync(PROBE_PATH, join(root, 'probe'))
    const cwd = join(tempDir(), 'made', 'here')
    const out = captureFile('stdout')
    const helper = startHelper({ stdout: out.fd })
    await helper.chroot(root)
    const error = await caught(() => startProcess(helper, proc(['/probe', 'cwd'], { cwd })))
    expect(existsSync(cwd), `${cwd} was created on the host: make the directory through the helper, which sees the container's filesystem (after chapter 03, its own root), not with Node's fs`).toBe(false)
    expect(existsSync(join(root, cwd)), `the missing working directory was not created in the container's filesystem (${error?.message ?? 'no error'}): runc creates it (MkdirAll) before chdir`).toBe(true)
    expect(error).toBeUndefined()
    await helper.exited
    expect(probeValue(out.read(), 'cwd')).toBe(cwd)
  })

  it('reports a working directory that cannot be made as the SyscallError that says why', async () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, '')
    const error = await caught(() => startProcess(startHelper(), proc(['/bin/true'], { cwd: `${file}/sub` })))
    expect(error, 'a failed helper call must surface as the SyscallError it threw').toBeInstanceOf(SyscallError)
    expect(error).toMatchObject({ code: 'ENOTDIR' })
  })

  it('refuses a relative working directory with a ContainerError (125)', async () => {
    const error = await caught(() => startProcess(startHelper(), proc(['/bin/true'], { cwd: 'relative/dir' })))
    expect(error, 'process.cwd must be absolute (runc: "Cwd must be an absolute path")').toMatchObject({ name: 'ContainerError', exitCode: 125 })
  })

  it('refuses an empty command with a ContainerError (125)', async () => {
    const helper = startHelper()
    const error = await caught(() => startProcess(helper, proc([])))
    expect(error, 'an empty process.args: dockerd says "no command specified"').toMatchObject({ name: 'ContainerError', exitCode: 125 })
    expect(error.message).toMatch(/no command specified/)
  })
})

describe('runProcess', () => {
  it('passes argv exactly: spaces, quotes, unicode and empty arguments', async () => {
    const args = ['plain', 'two words', '"quoted"', "it's", 'ünïcödé ✓', '', '$HOME', '*']
    const { code, stdout } = await run(proc([PROBE_PATH, 'argv', ...args]))
    expect(code).toBe(0)
    expect(probeValue(stdout, 'argv'), 'each argument must arrive as one argv entry, untouched by any shell').toEqual(args)
  })

  it('gives the process exactly the env it was given', async () => {
    const env = ['PATH=/nowhere', 'GREETING=hello world', 'EMPTY=']
    const { stdout } = await run(proc([PROBE_PATH, 'env'], { env }))
    expect(probeValue(stdout, 'env'), 'the container sees its own env, not the host\'s').toEqual(env)
  })

  it('looks the command up in the PATH of the container\'s env', async () => {
    const bin = tempDir()
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:found'], { env: [`PATH=/nonexistent:${bin}`] }))
    expect(result.stdout, `my-probe is only in ${bin}, the second directory of the container's PATH (${result.error?.message ?? 'no error'}): search every directory of the env's PATH, not the host's, and go on after ENOENT`).toBe('found\n')
  })

  it('runs in the working directory it was given', async () => {
    const dir = tempDir()
    const { stdout } = await run(proc([PROBE_PATH, 'cwd'], { cwd: dir }))
    expect(probeValue(stdout, 'cwd')).toBe(dir)
  })

  it('keeps stdout and stderr apart', async () => {
    const { stdout, stderr } = await run(proc([PROBE_PATH, 'out:to-stdout', 'err:to-stderr', 'out:again']))
    expect(stdout).toBe('to-stdout\nagain\n')
    expect(stderr, 'stderr must go to the stderr you were given, not into stdout').toBe('to-stderr\n')
  })

  it('returns the exit code', async () => {
    expect((await run(proc([PROBE_PATH, 'exit:3']))).code).toBe(3)
    expect((await run(proc([PROBE_PATH, 'exit:0']))).code).toBe(0)
  })

  it('exits as docker run does when the process dies of a signal', async () => {
    expect((await run(proc([PROBE_PATH, 'kill:9']))).code, 'killed by SIGKILL: not the exit code docker run gives (see "Exit codes")').toBe(137)
    expect((await run(proc([PROBE_PATH, 'kill:15']))).code, 'killed by SIGTERM: not the exit code docker run gives (see "Exit codes")').toBe(143)
  })

  it('fails with 127 and a clear message when the executable does not exist', async () => {
    const error = await caught(() => run(proc(['no-such-command-anywhere'])))
    expect(error, 'a missing command is a ContainerError, not a crash').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(127)
    expect(error.message).toBe('exec: "no-such-command-anywhere": executable file not found in $PATH')
  })

  it('fails with 127 and stat\'s reason when a path with a slash does not exist', async () => {
    const missing = join(tempDir(), 'no-such-program')
    const error = await caught(() => run(proc([missing], { env: [`PATH=${PROBE_DIR}`] })))
    expect(error, 'a missing program is a ContainerError, not a crash').toBeInstanceOf(ContainerError)
    expect(error.message, 'a path with a slash is not searched on the PATH: runc says what stat said about it').toBe(`exec: "${missing}": stat ${missing}: no such file or directory`)
    expect(error.exitCode).toBe(127)
  })

  it('fails with stat\'s reason and docker run\'s exit code when a path with a slash goes through a file', async () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, '')
    const error = await caught(() => run(proc([`${file}/x`])))
    expect(error, `${file} is a file, so ${file}/x cannot exist: a ContainerError, not a crash (${error?.message})`).toBeInstanceOf(ContainerError)
    expect(error.message, 'runc says what stat said: not a directory').toBe(`exec: "${file}/x": stat ${file}/x: not a directory`)
    expect(error.exitCode, `the exit code docker run gives runc's "not a directory", as the docker CLI reads runc's message (toStatusError, cli/command/container/run.go)`).toBe(125)
  })

  it('fails with 126 when the file exists but cannot be executed', async () => {
    const file = join(tempDir(), 'not-executable')
    writeFileSync(file, '#!/bin/sh\n')
    chmodSync(file, 0o644)
    for (const path of [file, tempDir()]) {
      const error = await caught(() => run(proc([path])))
      expect(error, `${path} exists but is not executable: a ContainerError`).toBeInstanceOf(ContainerError)
      expect(error.message, 'runc says: permission denied').toBe(`exec: "${path}": permission denied`)
      expect(error.exitCode, `the exit code docker run gives runc's "permission denied" (toStatusError in the docker CLI)`).toBe(126)
    }
  })

  it('skips a file on the PATH that is not executable and runs the next one, as runc does', async () => {
    const [first, second] = [tempDir(), tempDir()]
    writeFileSync(join(first, 'my-probe'), '#!/bin/sh\n', { mode: 0o644 })
    copyFileSync(PROBE_PATH, join(second, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:second'], { env: [`PATH=${first}:${second}`] }))
    expect(result.stdout, `${first}/my-probe is not executable, ${second}/my-probe is (${result.error?.message ?? 'no error'}): runc runs the second one (the table's "cat" line says what runc does with a file on the PATH it cannot execute)`).toBe('second\n')
  })

  it('fails with 127 when the PATH has the name only as a file that is not executable', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'data-only'), 'x', { mode: 0o644 })
    const error = await caught(() => run(proc(['data-only'], { env: [`PATH=${dir}`] })))
    expect(error?.exitCode, `runc finds no executable data-only on the PATH and says exec: "data-only": executable file not found in $PATH, but got ${error?.message}`).toBe(127)
  })

  it('keeps argv[0] as the command was written, not the file the PATH search found', async () => {
    const bin = tempDir()
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const { stdout } = await run(proc(['my-probe', 'cat:/proc/self/cmdline'], { env: [`PATH=${bin}`] }))
    expect(probeValue(stdout, 'cat'), `the program found ${bin}/my-probe but must still see argv[0] as written, as with runc and execvp(3): the search picks the file, not the arguments (busybox reads argv[0] to know what to be)`).toBe('my-probe')
  })

  it('reports a file on the PATH that the kernel cannot run as the SyscallError it is, not as not found', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'not-a-program'), 'no format the kernel knows\n', { mode: 0o755 })
    const error = await caught(() => run(proc(['not-a-program'], { env: [`PATH=${dir}`] })))
    expect(error, `${dir}/not-a-program is executable but no program (execve: ENOEXEC): runc finds it and fails with "exec format error", while ${error?.message ?? 'no error'} came back; only the errors that mean "no program here" let the search go on`).toBeInstanceOf(SyscallError)
    expect(error).toMatchObject({ code: 'ENOEXEC' })
  })

  it('never runs a program found relative to the working directory through an empty PATH entry', async () => {
    const cwd = tempDir()
    copyFileSync(PROBE_PATH, join(cwd, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:ran'], { cwd, env: ['PATH=:/nonexistent'] }))
    expect(result.stdout, `my-probe is only in the working directory, which the empty PATH entry names: runc refuses to run it (Go's exec.LookPath, ErrDot), so nothing may run`).toBe('')
    expect(result.error, 'nothing on the PATH may run: a ContainerError').toBeInstanceOf(ContainerError)
  })

  it('runs the prepare step in the helper before exec', async () => {
    const root = tempDir()
    copyFileSync(PROBE_PATH, join(root, 'probe'))
    const out = captureFile('stdout')
    let code: number | undefined
    const error = await caught(async () => {
      code = await runProcess(proc(['/probe', 'out:in-root']), { stdout: out.fd }, (h) => h.chroot(root).then(() => undefined))
    })
    expect(code, `/probe exists only in the root that prepare(helper) chroots into (${error?.message ?? 'no error'}): run prepare before startProcess, in the same helper`).toBe(0)
    expect(out.read()).toBe('in-root\n')
  })

  it('leaves no helper behind when prepare fails', async () => {
    let pid = 0
    const failing = async (h: Helper) => {
      pid = h.pid
      throw new Error('prepare failed')
    }
    expect(await caught(() => runProcess(proc(['/bin/true']), {}, failing))).toMatchObject({ message: 'prepare failed' })
    const left = leftOf(pid)
    if (left === 'alive') process.kill(pid, 'SIGKILL') // leave nothing behind when the check fails
    expect(left, `helper ${pid} was signalled but not yet gone (or not yet reaped) when runProcess rejected: the error reached the caller before the helper had exited`).not.toBe('dying')
    expect(left, `helper ${pid} is still running after runProcess rejected: a failed start must not leave its helper behind`).toBeUndefined()
  })
})
