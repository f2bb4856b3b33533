/**
 * Chapter 09's given code: the bundle, what a runtime is handed. A directory with config.json (the Spec of
 * every chapter so far, written down) and the root filesystem it names; and the container's ID,
 * which becomes a directory name under the runtime's --root.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Spec } from './oci.ts'
import { RuntimeError } from './runtime.ts'

/**
 * Refuse an ID that could not safely be a directory name under --root: runc allows letters,
 * digits and `_ + - .`, and never `.` or `..` alone. The message names the ID: `invalid id format: ID`.
 */
export function checkContainerId(id: string): void {
  // A "/" or ".." would put the state directory (and what delete removes) anywhere on the host.
  if (!/^[\w+.-]+$/.test(id) || id === '.' || id === '..') throw new RuntimeError(`invalid id format: ${JSON.stringify(id)}`)
}

/**
 * Read BUNDLE/config.json into a Spec whose root.path is absolute. Refused, each in one line
 * naming the file and what is wrong: no config.json, text that is not JSON, a missing field of
 * those config.md requires (`FILE: FIELD is required`), and a rootfs that is not a directory.
 */
export function loadBundle(bundle: string): Spec {
  const file = resolve(bundle, 'config.json')
  if (!existsSync(file)) throw new RuntimeError(`JSON specification file ${file} not found`)
  let spec: Spec
  try {
    spec = JSON.parse(readFileSync(file, 'utf8')) as Spec
  } catch (error) {
    throw new RuntimeError(`${file}: not valid JSON: ${(error as Error).message}`)
  }
  const missing = (what: string) => new RuntimeError(`${file}: ${what} is required`)
  if (typeof spec !== 'object' || spec === null) throw new RuntimeError(`${file}: not a JSON object`)
  if (typeof spec.ociVersion !== 'string') throw missing('ociVersion')
  if (!Array.isArray(spec.process?.args) || spec.process.args.length === 0) throw missing('process.args')
  if (typeof spec.process.cwd !== 'string') throw missing('process.cwd')
  if (typeof spec.root?.path !== 'string') throw missing('root.path')
  spec.process.env ??= []
  // root.path is relative to the bundle, not to wherever the runtime was started.
  const rootfs = resolve(bundle, spec.root.path)
  if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) throw new RuntimeError(`rootfs (${rootfs}) does not exist`)
  return { ...spec, root: { ...spec.root, path: rootfs } }
}
