/**
 * Chapter 01's tests in the copies fixture.ts makes, in place of test/01-process/process.test.ts:
 * that file asks a real dockerd for every expected value (half a minute a run, and the workbook's
 * tests run chapter tests dozens of times). The workbook's tests look at how a run is reported
 * (NotImplementedError messages, a diff, a teaching message, counts, grades), so these few tests
 * call the chapter's functions and expect the values the real docker run gives, which
 * test/01-process checks against the real thing.
 */
import { describe, expect, it } from 'vitest'
import { buildEnv, exitCode, runProcess, searchPath } from '#ch/01-process/process.ts'
import { DEFAULT_PATH } from '../../lib/oci.ts'
import { captureFile } from '../support/files.ts'
import { PROBE_PATH, probeValue } from '../support/probe.ts'

describe('exitCode', () => {
  it('a process that exited 0, and one that exited 3', () => {
    expect(exitCode({ code: 0, signal: null })).toBe(0)
    expect(exitCode({ code: 3, signal: null })).toBe(3)
  })

  it('a process killed by SIGKILL, and one killed by SIGTERM', () => {
    expect(exitCode({ code: null, signal: 9 }), 'killed by SIGKILL (9): what does `docker run` exit with for a container killed so? ("Exit codes")').toBe(137)
    expect(exitCode({ code: null, signal: 15 }), 'killed by SIGTERM (15): and for this signal? ("Exit codes")').toBe(143)
  })
})

describe('buildEnv', () => {
  it('flags -e A=1 -e "B=two words" -e A=2', () => {
    expect([...buildEnv(['A=1', 'B=two words', 'A=2'])].sort()).toEqual(['A=2', 'B=two words', DEFAULT_PATH])
  })
})

describe('searchPath', () => {
  it("tool, with PATH=/first:/second/bin in the container's env", () => {
    expect(searchPath('tool', ['PATH=/first:/second/bin'])).toEqual(['/first/tool', '/second/bin/tool'])
  })
})

describe('runProcess', () => {
  it('argv with spaces and an empty argument', async () => {
    const out = captureFile('stdout')
    const args = ['two words', '']
    expect(await runProcess({ args: [PROBE_PATH, 'argv', ...args], env: [DEFAULT_PATH], cwd: '/' }, { stdout: out.fd })).toBe(0)
    expect(probeValue(out.read(), 'argv')).toEqual(args)
  })

  it('a program that kills itself with SIGKILL', async () => {
    const code = await runProcess({ args: [PROBE_PATH, 'kill:9'], env: [DEFAULT_PATH], cwd: '/' })
    expect(code, 'killed by SIGKILL (9): what does `docker run` exit with for a container killed so? ("Exit codes")').toBe(137)
  })
})
