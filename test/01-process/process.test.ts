import { chmodSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildEnv, exitCode, runProcess, startProcess } from '#ch/01-process/process.ts'
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

/** Run with stdout and stderr captured into files. */
async function run(process: Process) {
  const out = captureFile('stdout')
  const err = captureFile('stderr')
  const code = await runProcess(process, { stdout: out.fd, stderr: err.fd })
  return { code, stdout: out.read(), stderr: err.read() }
}

describe('exitCode', () => {
  it('returns the exit code of a process that exited', () => {
    expect(exitCode({ code: 0, signal: null })).toBe(0)
    expect(exitCode({ code: 3, signal: null })).toBe(3)
  })

  it('returns 128 + N for a process killed by signal N', () => {
    expect(exitCode({ code: null, signal: 9 }), 'SIGKILL is 9: docker reports 137').toBe(137)
    expect(exitCode({ code: null, signal: 15 }), 'SIGTERM is 15: docker reports 143').toBe(143)
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
    expect(buildEnv(['URL=a=b=c', 'EMPTY='])).toEqual([DEFAULT_PATH, 'URL=a=b=c', 'EMPTY='])
  })

  it('lets a later flag replace an earlier one, PATH included, in its first position', () => {
    expect(buildEnv(['A=1', 'PATH=/bin', 'A=2'])).toEqual(['PATH=/bin', 'A=2'])
  })

  it('copies a bare KEY from the host, and drops it when the host has none', () => {
    expect(buildEnv(['HOME', 'NOT_ON_HOST'], { HOME: '/root' }), 'docker run -e HOME copies the host\'s HOME').toEqual([
      DEFAULT_PATH,
      'HOME=/root',
    ])
  })

  it('refuses a flag with no name', async () => {
    expect(await caught(() => buildEnv(['=oops']))).toBeInstanceOf(ContainerError)
  })
})

describe('startProcess', () => {
  it('reports a missing working directory as the chdir SyscallError', async () => {
    const helper = startHelper()
    const error = await caught(() => startProcess(helper, proc(['/bin/true'], { cwd: '/does/not/exist' })))
    expect(error, 'a failed helper call must surface as the SyscallError it threw').toBeInstanceOf(SyscallError)
    expect(error).toMatchObject({ syscall: 'chdir', code: 'ENOENT', path: '/does/not/exist' })
    expect(String(error.message)).toBe('chdir("/does/not/exist") failed: ENOENT (No such file or directory)')
  })

  it('refuses an empty command with a ContainerError (125)', async () => {
    const helper = startHelper()
    expect(await caught(() => startProcess(helper, proc([])))).toMatchObject({ name: 'ContainerError', exitCode: 125 })
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
    const { code, stdout } = await run(proc(['my-probe', 'out:found'], { env: [`PATH=/nonexistent:${bin}`] }))
    expect(code).toBe(0)
    expect(stdout).toBe('found\n')
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

  it('returns 128 + N when the process dies of signal N', async () => {
    expect((await run(proc([PROBE_PATH, 'kill:9']))).code, 'killed by SIGKILL: expected 128 + 9').toBe(137)
    expect((await run(proc([PROBE_PATH, 'kill:15']))).code, 'killed by SIGTERM: expected 128 + 15').toBe(143)
  })

  it('fails with 127 and a clear message when the executable does not exist', async () => {
    const error = await caught(() => run(proc(['no-such-command-anywhere'])))
    expect(error, 'a missing command is a ContainerError, not a crash').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(127)
    expect(error.message).toBe('exec: "no-such-command-anywhere": executable file not found in $PATH')
  })

  it('fails with 126 when the file exists but cannot be executed', async () => {
    const file = join(tempDir(), 'not-executable')
    writeFileSync(file, '#!/bin/sh\n')
    chmodSync(file, 0o644)
    const error = await caught(() => run(proc([file])))
    expect(error).toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(126)
  })

  it('runs the prepare step in the helper before exec', async () => {
    const dir = tempDir()
    const out = captureFile('stdout')
    const code = await runProcess(proc([PROBE_PATH, 'cwd'], { cwd: '.' }), { stdout: out.fd }, (h) => h.chdir(dir).then(() => undefined))
    expect(code).toBe(0)
    expect(probeValue(out.read(), 'cwd'), 'prepare(helper) must run before startProcess').toBe(dir)
  })

  it('leaves no helper behind when prepare fails', async () => {
    let pid = 0
    const failing = async (h: Helper) => {
      pid = h.pid
      throw new Error('prepare failed')
    }
    expect(await caught(() => runProcess(proc(['/bin/true']), {}, failing))).toMatchObject({ message: 'prepare failed' })
    expect(() => process.kill(pid, 0), `helper ${pid} is still running: kill it when prepare or startProcess throws`).toThrow()
  })
})
