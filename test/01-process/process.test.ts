import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exitCode, runProcess, searchPath, startProcess } from '#ch/01-process/process.ts'
import { ContainerError } from '../../lib/errors.ts'
import { DEFAULT_PATH, type Process } from '../../lib/oci.ts'
import { Helper, SyscallError } from '../../native/helper.ts'
import { caught } from '../support/errors.ts'
import { startHelper } from '../support/helper.ts'
import { captureFile, tempDir } from '../support/files.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'
import { docker } from '../support/realdocker.ts'
import { probeBundle } from '../support/runtime.ts'
import { testCgroupPath } from '../support/cgroups.ts'
import { execa } from 'execa'

const proc = (args: string[], extra: Partial<Process> = {}): Process => ({
  args,
  env: [DEFAULT_PATH],
  cwd: '/',
  ...extra,
})

const PROBE_DIR = dirname(PROBE_PATH)

/** A prepare step that gives the helper `root` as its root. */
const inRoot = (root: string) => (h: Helper) => h.chroot(root).then(() => undefined)

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

/** What the real `docker run` exits with for the probe's image and these arguments. */
async function dockerExit(args: string[]): Promise<number> {
  return (await docker(['run', ...args])).code
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
  it('a process that exited 0, and one that exited 3', () => {
    expect(exitCode({ code: 0, signal: null })).toBe(0)
    expect(exitCode({ code: 3, signal: null })).toBe(3)
  })

  it('a process killed by SIGKILL, and one killed by SIGTERM', async () => {
    const killed = exitCode({ code: null, signal: 9 })
    const termed = exitCode({ code: null, signal: 15 })
    // The expected numbers are what the real docker run exits with when the probe kills itself
    // so (in the host's PID namespace: as PID 1 of its own, it could not).
    expect(killed, 'killed by SIGKILL (9): what does `docker run` exit with for a container killed so? ("Exit codes"; "EXIT STATUS" in bash(1))').toBe(await dockerExit(['--pid', 'host', 'probe', '/probe', 'kill:9']))
    expect(termed, 'killed by SIGTERM (15): and for this signal? ("Exit codes")').toBe(await dockerExit(['--pid', 'host', 'probe', '/probe', 'kill:15']))
  })
})

/** The directories below `dir`, a symlink not counted as one. */
const dirsIn = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => lstatSync(join(dir, p)).isDirectory()).sort()

/**
 * The same layout made in two directories: the probe run with the working directory DIR/below
 * in one through runProcess, and in the other through the real docker run, which sees it as /r.
 */
async function cwdBeside(layout: (dir: string) => void, below: string) {
  const [mine, theirs] = [tempDir(), tempDir()]
  layout(mine)
  layout(theirs)
  const { stdout, error } = await runOrError(proc([PROBE_PATH, 'cwd'], { cwd: `${mine}/${below}` }))
  const real = await docker(['run', '-v', `${theirs}:/r`, '-w', `/r/${below}`, 'probe', '/probe', 'cwd'])
  return { mine, theirs, stdout, error, real }
}

describe('searchPath', () => {
  it('tool, with PATH=/first:/second/bin in the container\'s env', () => {
    expect(searchPath('tool', ['A=1', 'PATH=/first:/second/bin']), 'tool, with PATH=/first:/second/bin in env: which files does execvp(3) try, in which order? ("Finding the command")').toEqual(['/first/tool', '/second/bin/tool'])
  })

  it('tool, with an env that names PATH twice, beside the real runc', async () => {
    // No docker run can send runc such an env (dockerd's merge keeps one of each key), but a
    // config.json can: the bundle runc runs below is one, with the program in one directory only.
    const env = ['PATH=/one', 'A=1', 'PATH=/two']
    const dir = tempDir()
    probeBundle(dir, [], (spec) => {
      spec.process!.args = ['tool', 'out:ran']
      spec.process!.env = env
      spec.linux!.cgroupsPath = testCgroupPath()
    })
    mkdirSync(join(dir, 'rootfs', 'two'))
    copyFileSync(join(dir, 'rootfs', 'bin', 'probe'), join(dir, 'rootfs', 'two', 'tool'))
    const [state, id] = [tempDir(), `minidocker-test-${basename(dir)}`]
    const runc = await execa('runc', ['--root', state, 'run', '--bundle', dir, id], { reject: false, stdin: 'ignore', timeout: 30_000 })
      .finally(() => execa('runc', ['--root', state, 'delete', '--force', id], { reject: false, stdin: 'ignore' }))
    const ran = runc.exitCode === 0 && runc.stdout === 'ran'
    const searched = ran ? '/two/tool' : '/one/tool'
    expect(searchPath('tool', env), `runc ${ran ? 'found tool and ran it' : `said: ${runc.stderr.split('\n').at(-1)}`} (only one of the two directories holds it), with the env ${JSON.stringify(env)} in config.json: which of the two PATHs did its search read, and why that one? (runc 1.1's libcontainer/init_linux.go; "Finding the command")`).toEqual([searched])
  })

  it('ls, with no PATH in the container\'s env', () => {
    expect(searchPath('ls', ['HOME=/root']), "nothing to try, but got files: is process.env.PATH (the host's) being searched?").toEqual([])
  })

  it('/bin/sh and ./run.sh', () => {
    expect(searchPath('/bin/sh', [DEFAULT_PATH]), '/bin/sh has a slash: which command names does execvp(3) look up on the PATH, and which does it take as written? ("Finding the command")').toEqual(['/bin/sh'])
    expect(searchPath('./run.sh', [DEFAULT_PATH]), './run.sh has a slash too: what does execvp(3) do with it?').toEqual(['./run.sh'])
  })

})

describe('startProcess', () => {
  it('a cwd two levels of which are missing, in a helper given a root of its own', async () => {
    const root = tempDir() // the helper's root below: the container's filesystem is not Node's
    copyFileSync(PROBE_PATH, join(root, 'probe'))
    const cwd = join(tempDir(), 'made', 'here')
    const out = captureFile('stdout')
    const helper = startHelper({ stdout: out.fd })
    await helper.chroot(root)
    const error = await caught(() => startProcess(helper, proc(['/probe', 'cwd'], { cwd })))
    expect(existsSync(cwd), `${cwd} was created on the host, outside the root the helper was given: whose filesystem is the container's after chapter 03, and which process sees it? ("The working directory")`).toBe(false)
    expect(existsSync(join(root, cwd)), `the working directory does not exist in the container's filesystem after startProcess (${error?.message ?? 'no error'}): what does runc do with a cwd that is missing? (prepareRootfs in libcontainer/rootfs_linux.go; "The working directory")`).toBe(true)
    expect(error).toBeUndefined()
    await helper.exited
    expect(probeValue(out.read(), 'cwd')).toBe(cwd)
  })

  it('a cwd with ".." after a symlink, and after a directory that is missing', async () => {
    // A directory with a/b and a symlink link -> a/b in it.
    const layout = (dir: string) => {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true })
      symlinkSync('a/b', join(dir, 'link'))
    }
    for (const below of ['link/../x', 'made/../here/./y/']) {
      const { mine, theirs, stdout, error, real } = await cwdBeside(layout, below)
      const where = (out: string, base: string) => (out ? probeValue<string>(out, 'cwd').replace(base, '') : '(did not run)')
      const seen = `docker run -w /r/${below} ran the program in ${where(real.stdout, '/r')} and left the directories ${dirsIn(theirs).join(', ')}; with the same files, yours ran in ${where(stdout, mine)}${error ? ` (${error.message})` : ''} and left ${dirsIn(mine).join(', ')}`
      expect(where(stdout, mine), `${seen}. Why do the two differ, and at which step of docker run's start? ("The working directory")`).toBe(where(real.stdout, '/r'))
      expect(dirsIn(mine), `${seen}. Which directories does the path name, once docker is done with it?`).toEqual(dirsIn(theirs))
    }
  })

  it('a cwd through a symlink that points nowhere yet, beside the real docker run', async () => {
    // A directory with a symlink `later -> gone/deeper` in it, whose target does not exist (yet).
    const layout = (dir: string) => symlinkSync('gone/deeper', join(dir, 'later'))
    for (const below of ['later', 'later/sub']) {
      const { mine, theirs, stdout, error, real } = await cwdBeside(layout, below)
      // the failed call in the words of each side: the system call, the path below the directory, the reason
      const theirWords = /\b(\w+) \/r\/(\S*): ([a-z ]+)/.exec(real.stderr)
      const said = real.code === 0 ? `ran the program in ${probeValue<string>(real.stdout, 'cwd').replace('/r', '')}` : theirWords ? `failed: ${theirWords[1]} ${theirWords[2]}: ${theirWords[3]}` : `failed: ${real.stderr.split('\n')[0]}`
      const reason = error instanceof SyscallError ? /\(([^()]*)\)$/.exec(error.message)?.[1]?.toLowerCase() : undefined
      const mineSaid = !error ? `ran the program in ${probeValue<string>(stdout, 'cwd').replace(mine, '')}` : error instanceof SyscallError ? `failed: ${error.syscall} ${(error.path ?? '').replace(`${mine}/`, '')}: ${reason}` : `failed: ${error.message}`
      const seen = `${below}, where later -> gone/deeper and nothing named gone exists: docker run -w /r/${below} ${said} and left the directories [${dirsIn(theirs).join(', ')}]; yours ${mineSaid} and left [${dirsIn(mine).join(', ')}]`
      expect(mineSaid, `${seen}. Which call of runc's failed, on which name, and why there and not one name later? What does mkdir(2) say of a symlink, and what does runc do when it is told a name exists? ("The working directory")`).toBe(said)
      expect(dirsIn(mine), `${seen}. Which directories did runc make before it stopped?`).toEqual(dirsIn(theirs))
    }
  })

  it('a cwd below a file', async () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, '')
    const error = await caught(() => startProcess(startHelper(), proc(['/bin/true'], { cwd: `${file}/sub` })))
    expect(error, `the cwd ${file}/sub is below a file: expected the SyscallError of the helper call that failed, unchanged (got ${error?.message ?? 'no error'})`).toBeInstanceOf(SyscallError)
    expect(error).toMatchObject({ code: 'ENOTDIR' })
  })

  it('a relative cwd', async () => {
    const error = await caught(() => startProcess(startHelper(), proc(['/bin/true'], { cwd: 'relative/dir' })))
    expect(error, 'cwd "relative/dir": what does Docker do with a working directory that is not absolute, before anything runs, and whose error is it? ("The working directory"; "Exit codes")').toMatchObject({ name: 'ContainerError', exitCode: 125 })
  })

  it('an empty process.args', async () => {
    const helper = startHelper()
    const error = await caught(() => startProcess(helper, proc([])))
    expect(error, 'an empty process.args: dockerd says "no command specified"').toMatchObject({ name: 'ContainerError', exitCode: 125 })
    expect(error.message).toMatch(/no command specified/)
  })
})

describe('runProcess', () => {
  it('argv with spaces, quotes, unicode and empty arguments', async () => {
    const args = ['plain', 'two words', '"quoted"', "it's", 'ünïcödé ✓', '', '$HOME', '*']
    const { code, stdout } = await run(proc([PROBE_PATH, 'argv', ...args]))
    expect(code).toBe(0)
    expect(probeValue(stdout, 'argv'), 'each argument must arrive as one argv entry, untouched by any shell').toEqual(args)
  })

  it('an env with spaces and an empty value', async () => {
    const env = ['PATH=/nowhere', 'GREETING=hello world', 'EMPTY=']
    const { stdout } = await run(proc([PROBE_PATH, 'env'], { env }))
    expect(probeValue(stdout, 'env'), 'the container sees its own env, not the host\'s').toEqual(env)
  })

  it('my-probe, in the second directory of the container\'s PATH', async () => {
    const bin = tempDir()
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:found'], { env: [`PATH=/nonexistent:${bin}`] }))
    expect(result.stdout, `my-probe is only in ${bin}, the second directory of the container's PATH, and it did not run (${result.error?.message ?? 'no error'}): which failures of execve(2) mean "not here, try the next"? ("Finding the command")`).toBe('found\n')
  })

  it('an existing cwd', async () => {
    const dir = tempDir()
    const { stdout } = await run(proc([PROBE_PATH, 'cwd'], { cwd: dir }))
    expect(probeValue(stdout, 'cwd')).toBe(dir)
  })

  it('keeps stdout and stderr apart', async () => {
    const { stdout, stderr } = await run(proc([PROBE_PATH, 'out:to-stdout', 'err:to-stderr', 'out:again']))
    expect(stdout).toBe('to-stdout\nagain\n')
    expect(stderr, 'stderr must go to the stderr you were given, not into stdout').toBe('to-stderr\n')
  })

  it('a program that exits 3, and one that exits 0', async () => {
    expect((await run(proc([PROBE_PATH, 'exit:3']))).code).toBe(3)
    expect((await run(proc([PROBE_PATH, 'exit:0']))).code).toBe(0)
  })

  it('a program that kills itself with SIGKILL, and one with SIGTERM', async () => {
    const killed = (await run(proc([PROBE_PATH, 'kill:9']))).code
    const termed = (await run(proc([PROBE_PATH, 'kill:15']))).code
    expect(killed, 'killed by SIGKILL (9): what does `docker run` exit with for a container killed so? ("Exit codes")').toBe(await dockerExit(['--pid', 'host', 'probe', '/probe', 'kill:9']))
    expect(termed, 'killed by SIGTERM (15): and for this signal? ("Exit codes")').toBe(await dockerExit(['--pid', 'host', 'probe', '/probe', 'kill:15']))
  })

  it('a command on no directory of the PATH', async () => {
    const error = await caught(() => run(proc(['no-such-command-anywhere'])))
    expect(error, 'a missing command is a ContainerError, not a crash').toBeInstanceOf(ContainerError)
    expect(error.message, 'runc\'s words for a name on no directory of the PATH: the table in "Finding the command"').toBe('exec: "no-such-command-anywhere": executable file not found in $PATH')
    expect(error.exitCode, 'what does docker run exit with for this message of runc\'s? ("Exit codes")').toBe(await dockerExit(['probe', 'no-such-command-anywhere']))
  })

  it('a path with a slash that does not exist', async () => {
    const missing = join(tempDir(), 'no-such-program')
    const error = await caught(() => run(proc([missing], { env: [`PATH=${PROBE_DIR}`] })))
    expect(error, 'a missing program is a ContainerError, not a crash').toBeInstanceOf(ContainerError)
    expect(error.message, 'runc\'s words for a path that does not exist: the table in "Finding the command"').toBe(`exec: "${missing}": stat ${missing}: no such file or directory`)
    expect(error.exitCode, 'what does docker run exit with for this message of runc\'s? ("Exit codes")').toBe(await dockerExit(['probe', '/no-such-program']))
  })

  it('a path below a file', async () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, '')
    const error = await caught(() => run(proc([`${file}/x`])))
    expect(error, `${file} is a file, so ${file}/x cannot exist: expected a ContainerError, not a crash (got ${error?.message})`).toBeInstanceOf(ContainerError)
    expect(error.message, 'runc\'s words for a path below a file: the table in "Finding the command"').toBe(`exec: "${file}/x": stat ${file}/x: not a directory`)
    expect(error.exitCode, `what does docker run exit with for runc's "not a directory"? The docker CLI reads runc's message (toStatusError, cli/command/container/run.go)`).toBe(await dockerExit(['probe', '/probe/x']))
  })

  it('a file without its x bit, and a directory, given as paths', async () => {
    const file = join(tempDir(), 'not-executable')
    writeFileSync(file, '#!/bin/sh\n')
    chmodSync(file, 0o644)
    const dir = tempDir()
    for (const [path, inImage] of [[file, '/etc/passwd'], [dir, '/etc']] as const) {
      const error = await caught(() => run(proc([path])))
      expect(error, `${path} exists but is not executable: expected a ContainerError`).toBeInstanceOf(ContainerError)
      expect(error.message, `runc's words for ${path}: the table in "Finding the command"`).toBe(`exec: "${path}": permission denied`)
      expect(error.exitCode, `what does docker run exit with for runc's "permission denied"? (toStatusError in the docker CLI)`).toBe(await dockerExit(['probe', inImage]))
    }
  })

  it('my-probe without its x bit in the first PATH directory, with it in the second', async () => {
    const [first, second] = [tempDir(), tempDir()]
    writeFileSync(join(first, 'my-probe'), '#!/bin/sh\n', { mode: 0o644 })
    copyFileSync(PROBE_PATH, join(second, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:second'], { env: [`PATH=${first}:${second}`] }))
    expect(result.stdout, `${first}/my-probe is not executable, ${second}/my-probe is, and the second did not run (${result.error?.message ?? 'no error'}): what does the table's "cat" line say about a file on the PATH that cannot be executed? ("Finding the command")`).toBe('second\n')
  })

  it('data-only, on the PATH only without its x bit', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'data-only'), 'x', { mode: 0o644 })
    const error = await caught(() => run(proc(['data-only'], { env: [`PATH=${dir}`] })))
    // docker run's own answer for the same case: passwd, only in /etc, a file without its x bit
    expect(error?.exitCode, `data-only is on the PATH only as a file without its x bit, and the error was ${error?.message ?? 'none'}: which line of the table in "Finding the command" is this, and what does docker run exit with for it?`).toBe(await dockerExit(['-e', 'PATH=/etc', 'probe', 'passwd']))
  })

  it('argv[0] of a command found on the PATH', async () => {
    const bin = tempDir()
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const { stdout } = await run(proc(['my-probe', 'cat:/proc/self/cmdline'], { env: [`PATH=${bin}`] }))
    expect(probeValue(stdout, 'cat'), `my-probe was found as ${bin}/my-probe: what does execvp(3), and runc, give the program as its argv[0]? (busybox reads it to know which tool to be; "Finding the command")`).toBe('my-probe')
  })

  it('an executable text file without #! on the PATH', async () => {
    const root = tempDir() // the helper's root below, laid out as the witness's container sees it
    mkdirSync(join(root, 'r'))
    writeFileSync(join(root, 'r', 'not-a-program'), 'no format the kernel knows\n', { mode: 0o755 })
    const error = await caught(() => runProcess(proc(['not-a-program'], { env: ['PATH=/r'] }), { stderr: 'ignore' }, inRoot(root)))
    const real = await docker(['run', '-v', `${join(root, 'r')}:/r:ro`, '-e', 'PATH=/r', 'probe', 'not-a-program'])
    const words = real.stderr.split('\n')[0]
    expect(error, `/r/not-a-program has its x bit but is no program the kernel can run, and ${error?.message ?? 'no error'} came back, where docker run says: ${words}. Should the search go on past it, and had runc's search found a file? ("Finding the command")`).toBeInstanceOf(ContainerError)
    expect(error.message, `/r/not-a-program has its x bit but is no program the kernel can run, and docker run says: ${words}. Should the search go on past it? Whose words are these, and at which moment of the start were they written? (runc's libcontainer/standard_init_linux.go: what comes after the wait for \`start\`)`).toBe(words)
    expect(error.exitCode, `${words}: what does docker run exit with, and did the docker CLI ever read these words? ("Exit codes")`).toBe(real.code)
  })

  it('a dynamically linked program in a root without its loader, by path and on the PATH', async () => {
    // /usr/bin/true needs its ELF interpreter (ld.so), which neither root has.
    const root = tempDir()
    mkdirSync(join(root, 'bin'))
    copyFileSync('/usr/bin/true', join(root, 'dyn'))
    copyFileSync('/usr/bin/true', join(root, 'bin', 'dyn'))
    const runs: [string, string[], string[]][] = [
      ['/dyn', ['-v', '/usr/bin/true:/dyn:ro'], [DEFAULT_PATH]],
      ['dyn', ['-v', '/usr/bin/true:/bin/dyn:ro', '-e', 'PATH=/bin'], ['PATH=/bin']],
    ]
    for (const [command, flags, env] of runs) {
      const error = await caught(() => runProcess(proc([command], { env }), { stderr: 'ignore' }, inRoot(root)))
      const real = await docker(['run', ...flags, 'probe', command])
      const words = real.stderr.split('\n')[0]
      expect(error?.message, `${command}: the file is there and executable, and execve(2) answered ENOENT all the same; docker run says: ${words}. What else must exist for the kernel to run a file, and had runc's search found one? (execve(2) ERRORS; "Finding the command")`).toBe(words)
      expect(error.exitCode, `${words}: what does docker run exit with, and did the docker CLI ever read these words? ("Exit codes")`).toBe(real.code)
    }
  })

  it('PATH=:BIN, with my-probe in the working directory and in BIN', async () => {
    const [cwd, bin] = [tempDir(), tempDir()]
    copyFileSync(PROBE_PATH, join(cwd, 'my-probe'))
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:ran'], { cwd, env: [`PATH=:${bin}`] }))
    const real = await docker(['run', '-v', `${cwd}:/r:ro`, '-v', `${bin}:/b:ro`, '-w', '/r', '-e', 'PATH=:/b', 'probe', 'my-probe', 'out:ran'])
    const words = real.stderr.split('\n')[0]!
    expect(result.stdout, `my-probe ran (${result.error?.message ?? 'no error'}), where docker run, with the same PATH and the same files, says: ${words}. Where does Go's exec.LookPath stop, and what does it do with what it found there? ("Finding the command")`).toBe(real.stdout && `${real.stdout}\n`)
    expect(result.error, 'expected a ContainerError').toBeInstanceOf(ContainerError)
    expect(words, `docker run says: ${words}, and you said: ${result.error?.message}. Whose words? ("Finding the command")`).toContain(result.error!.message)
    expect((result.error as ContainerError).exitCode, 'what does docker run exit with for these words? ("Exit codes")').toBe(real.code)
  })

  it('PATH=:BIN, with a directory named my-probe in the working directory and my-probe in BIN', async () => {
    const [cwd, bin] = [tempDir(), tempDir()]
    mkdirSync(join(cwd, 'my-probe'))
    copyFileSync(PROBE_PATH, join(bin, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:ran'], { cwd, env: [`PATH=:${bin}`] }))
    const real = await docker(['run', '-v', `${cwd}:/r:ro`, '-v', `${bin}:/b:ro`, '-w', '/r', '-e', 'PATH=:/b', 'probe', 'my-probe', 'out:ran'])
    expect(result.stdout, `docker run, with the same PATH and the same files, printed ${JSON.stringify(real.stdout)}, and you got: ${result.error?.message ?? JSON.stringify(result.stdout)}. What does Go's exec.LookPath count as a find? (findExecutable in os/exec/lp_unix.go)`).toBe(real.stdout && `${real.stdout}\n`)
  })

  it('PATH=:/nonexistent, with my-probe only in the working directory', async () => {
    const cwd = tempDir()
    copyFileSync(PROBE_PATH, join(cwd, 'my-probe'))
    const result = await runOrError(proc(['my-probe', 'out:ran'], { cwd, env: ['PATH=:/nonexistent'] }))
    const real = await docker(['run', '-v', `${cwd}:/r:ro`, '-w', '/r', '-e', 'PATH=:/nonexistent', 'probe', 'my-probe', 'out:ran'])
    const words = real.stderr.split('\n')[0]!
    expect(result.stdout, `my-probe is only in the working directory, and it ran through the empty entry of PATH=:/nonexistent: what does runc (Go's exec.LookPath) do with a program found that way? ("Finding the command")`).toBe('')
    expect(result.error, 'expected a ContainerError').toBeInstanceOf(ContainerError)
    expect(words, `docker run, with the same PATH and the same files, says: ${words}, and you said: ${result.error?.message}. Did runc find nothing, or something it would not run? (Go's exec.LookPath; "Finding the command")`).toContain(result.error!.message)
    expect((result.error as ContainerError).exitCode, 'what does docker run exit with for these words? ("Exit codes")').toBe(real.code)
  })

  it('PATH=:bin:/nonexistent, in a root whose / holds my-probe and bin/my-probe', async () => {
    const root = tempDir() // the helper's root below
    mkdirSync(join(root, 'bin'))
    copyFileSync(PROBE_PATH, join(root, 'my-probe'))
    copyFileSync(PROBE_PATH, join(root, 'bin', 'my-probe'))
    const out = captureFile('stdout')
    const chroot = (h: Helper) => h.chroot(root).then(() => undefined)
    const error = await caught(() => runProcess(proc(['my-probe', 'out:ran'], { env: ['PATH=:bin:/nonexistent'] }), { stdout: out.fd, stderr: 'ignore' }, chroot))
    // The real docker run, with the same PATH and the same files in its working directory.
    const real = await docker(['run', '-v', `${root}:/r:ro`, '-w', '/r', '-e', 'PATH=:bin:/nonexistent', 'probe', 'my-probe', 'out:ran'])
    expect(out.read(), `my-probe ran (${error?.message ?? 'no error'}), where docker run says: ${real.stderr.split('\n')[0]}. What does each entry of PATH=:bin:/nonexistent name, and which file did you try? (execvp(3); Go's exec.LookPath; "Finding the command")`).toBe(real.stdout)
    expect(error, 'my-probe is in no directory of the PATH that runc searches: expected a ContainerError').toBeInstanceOf(ContainerError)
  })

  it('commands that are symlinks to absolute paths, in a root of their own', async () => {
    // A root laid out as the witness's container sees it: /b and /r hold symlinks, and /IMG (a
    // directory only the container has) holds the program one of them points at.
    const root = tempDir()
    const img = `/${basename(root)}-img`
    for (const dir of ['b', 'r', img.slice(1)]) mkdirSync(join(root, dir))
    copyFileSync(PROBE_PATH, join(root, img, 'probe'))
    copyFileSync(PROBE_PATH, join(root, 'b', 'other'))
    symlinkSync(`${img}/probe`, join(root, 'b', 'tool'))
    symlinkSync(`${img}/probe`, join(root, 'r', 'tool'))
    symlinkSync('/usr/bin/true', join(root, 'r', 'other'))
    const mounts = ['-v', `${join(root, 'b')}:/b:ro`, '-v', `${join(root, 'r')}:/r:ro`, '-v', `${PROBE_PATH}:${img}/probe:ro`]
    const runs: [string, string, string][] = [['tool', 'PATH=/b', '/'], ['/b/tool', 'PATH=/b', '/'], ['tool', 'PATH=:/b', '/r'], ['other', 'PATH=:/b', '/r']]
    for (const [command, path, cwd] of runs) {
      const out = captureFile('stdout')
      const error = await caught(() => runProcess(proc([command, 'out:ran'], { env: [path], cwd }), { stdout: out.fd, stderr: 'ignore' }, inRoot(root)))
      const real = await docker(['run', ...mounts, '-w', cwd, '-e', path, 'probe', command, 'out:ran'])
      // runc's own words, out of what dockerd and containerd wrapped around them
      const words = real.stderr.split('\n')[0]!.replace(/^.*unable to start container process: (.*?)(: unknown\.?)?$/, '$1')
      const said = real.code === 0 ? `ran it (${JSON.stringify(real.stdout)})` : `said: ${words}`
      const mine = error ? `said: ${error.message}` : `ran it (${JSON.stringify(out.read().trim())})`
      const layout = `/b/tool and /r/tool -> ${img}/probe, a directory only the container has; /b/other is a program; /r/other -> /usr/bin/true, which only the host has`
      expect(mine, `${command} with ${path} in ${cwd} (${layout}): docker run ${said}, and yours ${mine}. What did runc look at before it ran anything, and what did you look at? ("Finding the command")`).toBe(said)
    }
  })

  it('a program on a filesystem mounted noexec, by path and on the PATH', async () => {
    // A tmpfs of the test's own, mounted noexec, with the probe in it: its x bits are all there.
    const dir = tempDir()
    await execa('mount', ['-t', 'tmpfs', '-o', 'noexec,size=16m', 'tmpfs', dir])
    try {
      copyFileSync(PROBE_PATH, join(dir, 'tool'))
      chmodSync(join(dir, 'tool'), 0o755)
      // by path only: on the PATH, runc built with a newer Go skips the file (its LookPath asks faccessat) where 1.1.5 refuses it
      const runs: [string, string[], string][] = [[`${dir}/tool`, [], '/r/tool']]
      for (const [command, env, theirs] of runs) {
        const error = await caught(() => run(proc([command, 'out:ran'], { env: env.length ? env : [DEFAULT_PATH] })))
        const real = await docker(['run', '-v', `${dir}:/r`, ...(env.length ? ['-e', 'PATH=/r'] : []), 'probe', theirs, 'out:ran'])
        const words = real.stderr.split('\n')[0]!.replace(/^.*unable to start container process: (.*?)(: unknown\.?)?$/, '$1')
        const said = (error?.message ?? 'nothing (it ran)').replace(`${dir}/`, '/r/').replace(dir, '/r')
        // runc built with Go 1.20 or later has LookPath refuse it, in os/exec's words (exec: "P": ...);
        // runc 1.1.5 refuses it with its own check, in os.PathError's (exec P: ...): the same refusal
        const asPathError = (text: string) => text.replace(/^exec: "([^"]*)": /, 'exec $1: ')
        expect(asPathError(said), `${theirs}: an executable file (mode 755) on a filesystem mounted noexec; docker run says: ${words}, and you said: ${said}. Did runc's search find the file, and which of its steps failed? (mount(8) noexec; execve(2) ERRORS; "Finding the command")`).toBe(asPathError(words))
        expect(error.exitCode, `${words}: what does docker run exit with, and did the docker CLI ever read these words? ("Exit codes")`).toBe(real.code)
      }
    } finally {
      await execa('umount', [dir], { reject: false })
    }
  })

  it('a prepare step that chroots the helper', async () => {
    const root = tempDir()
    copyFileSync(PROBE_PATH, join(root, 'probe'))
    const out = captureFile('stdout')
    let code: number | undefined
    const error = await caught(async () => {
      code = await runProcess(proc(['/probe', 'out:in-root']), { stdout: out.fd }, (h) => h.chroot(root).then(() => undefined))
    })
    expect(code, `/probe exists only in the root that prepare chroots its helper into, and it did not run (${error?.message ?? 'no error'}): in which helper, and before what, does prepare run? (runProcess's doc comment; "The whole life of a process")`).toBe(0)
    expect(out.read()).toBe('in-root\n')
  })

  it('a prepare step that throws', async () => {
    let pid = 0
    const failing = async (h: Helper) => {
      pid = h.pid
      throw new Error('prepare failed')
    }
    expect(await caught(() => runProcess(proc(['/bin/true']), {}, failing))).toMatchObject({ message: 'prepare failed' })
    const left = leftOf(pid)
    if (left === 'alive') process.kill(pid, 'SIGKILL') // leave nothing behind when the check fails
    expect(left, `helper ${pid} still existed (a zombie, or with a signal pending) when runProcess rejected: when is a helper really gone, and how does the caller learn it? (the Helper class in native/helper.ts)`).not.toBe('dying')
    expect(left, `helper ${pid} is still running after runProcess rejected: a failed start must not leave its helper behind`).toBeUndefined()
  })
})
