/**
 * vitest's global setup: the run gets a directory of its own as TMPDIR, with a minidocker store
 * in it as MINIDOCKER_ROOT, and both go when the run ends. A test's temp dir can be made again
 * after the test removed it, by code that runs on past the test's time limit (a learner's pull
 * that keeps writing its store), and a command a test runs without a store of its own would
 * fill the host's /var/lib/minidocker: neither outlives the run.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mountsBelow } from '../../lib/mounts.ts'

let dir = ''

export function setup(): void {
  dir = mkdtempSync(join(tmpdir(), 'minidocker-run-'))
  chmodSync(dir, 0o1777) // as /tmp's: a test that drops privileges still reaches its own files
  process.env.TMPDIR = dir
  process.env.MINIDOCKER_ROOT = join(dir, 'store')
}

export function teardown(): void {
  // Never remove across a mount: a bind mount of the host's files left below would lose them.
  const mounts = mountsBelow(dir)
  if (mounts.length) console.error(`tests: ${dir} is left in place, mounts remain below it: ${mounts.join(', ')}`)
  else rmSync(dir, { recursive: true, force: true })
}
