/**
 * The shim's given plumbing (lib/shim.ts) that chapter 10 reads but does not write: the reaper's
 * lines as containerd counts exits, and the reason in a runtime's JSON log.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { lastError, parseReaperLine } from '../../lib/shim.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'

const RUNC = '/usr/sbin/runc'

/** The status sh(1) reports for a child killed by signal `n`, measured: containerd counts the same way. */
const shellStatus = (n: number) => Number(execFileSync('sh', ['-c', `sh -c 'kill -${n} $$'; echo $?`], { encoding: 'utf8' }).trim())

describe('the reaper\'s lines', () => {
  it('"123 exit 3", "124 signal 9" and a line that is no exit', () => {
    expect(parseReaperLine('123 exit 3')?.status).toBe(3)
    expect(parseReaperLine('124 signal 9')?.status, 'a death by SIGKILL as a shell counts it').toBe(shellStatus(9))
    expect(parseReaperLine('124 signal 9')?.pid).toBe(124)
    expect(parseReaperLine('garbage')).toBeNull()
  })
})

describeKernel('a runtime\'s log', () => {
  it('runc\'s own log: a warning, a line that is not JSON, a failed kill, then a failed create', () => {
    const bundle = tempDir('minidocker-runtime-log-')
    execFileSync(RUNC, ['spec', '--bundle', bundle]) // and no rootfs: runc's create fails
    const root = join(bundle, 'state')
    const log = join(bundle, 'log.json')
    const runcFails = (args: string[]) => spawnSync(RUNC, ['--root', root, '--log', log, '--log-format', 'json', ...args], { encoding: 'utf8' }).stderr.trim()
    const id = `error-${process.pid}`
    onCleanup(() => void spawnSync(RUNC, ['--root', root, 'delete', '--force', id]))
    writeFileSync(log, '{"level":"warning","msg":"something odd","time":"2024-01-01T00:00:00Z"}\nnot json at all\n')
    runcFails(['kill', 'ghost', 'KILL'])
    const said = runcFails(['create', '--bundle', bundle, id]).split('\n').at(-1)
    const text = readFileSync(log, 'utf8')
    expect(lastError(text), `runc said ${JSON.stringify(said)} on its stderr; its log:\n${text}`).toBe(said)
    expect(lastError('{"level":"info","msg":"fine"}\n')).toBeUndefined()
  })
})
