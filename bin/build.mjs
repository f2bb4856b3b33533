// The slow path of bin/start.cjs, loaded only when an input changed since the last start:
// bundle the entry with esbuild into one CommonJS file with its source map, keyed by the
// content of every input, and say nothing unless the build fails.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire, isBuiltin } from 'node:module'
import { basename, dirname, join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'

/** Inputs of every bundle besides the modules it contains: they change how it is built. */
const ALWAYS = ['package.json', 'tsconfig.json', 'workbook/chapters.json', 'workbook/conditions.cjs', 'bin/start.cjs', 'bin/build.mjs', 'node_modules/esbuild/package.json']

/**
 * CommonJS has no import.meta: each module's import.meta.url (and dirname, filename) becomes
 * its own source file's, so `new URL('./build/probe', import.meta.url)` means what it did.
 */
const importMeta = {
  name: 'import-meta',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/, namespace: 'file' }, (args) => {
      const text = readFileSync(args.path, 'utf8')
      if (!text.includes('import.meta')) return undefined
      const contents = text
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path))
      return { contents, loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' }
    })
  },
}

const require = createRequire(import.meta.url)

/**
 * A Node built-in whose exports are a plain object is loaded on first use, not at start:
 * crypto, net, tty, child_process and zlib alone cost a bare `node` half its start-up time
 * again, and a command often needs few of them. Those exporting a function or class
 * (events, stream, assert) and the process object stay as they are.
 */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (!isBuiltin(args.path)) return undefined
      const id = args.path.startsWith('node:') ? args.path : `node:${args.path}`
      const exports = require(id)
      const eager = typeof exports !== 'object' || id === 'node:process' || id === 'node:console'
      if (eager || args.namespace === 'lazy-builtin') return { path: id, external: true }
      return { path: id, namespace: 'lazy-builtin' }
    })
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const keys = Object.keys(require(args.path))
      const getters = keys.map((k) => `  get ${JSON.stringify(k)}() { return load()[${JSON.stringify(k)}] },`)
      return { contents: `let m\nconst load = () => (m ??= require(${JSON.stringify(args.path)}))\nmodule.exports = {\n${getters.join('\n')}\n}\n`, loader: 'js' }
    })
  },
}

/** sha256 over the inputs' names and contents. */
function contentHash(root, files) {
  const hash = createHash('sha256')
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(root, file))).update('\0')
  return hash.digest('hex')
}

/** [file, size, mtime] for each input, as bin/start.cjs compares them. */
function stats(root, files) {
  return files.map((file) => {
    const s = statSync(join(root, file))
    return [file, s.size, s.mtimeMs]
  })
}

/** The one line to print for a failed build: a missing chapter module, or the first error. */
function describe(errors, conditions) {
  const e = errors[0]
  const where = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}` : ''
  const missing = /^Could not resolve "#ch\/((\d\d)-[^/]+)\/(.+)"$/.exec(e.text)
  if (missing) {
    const [, folder, id, module] = missing
    if (conditions.includes(`ref-${id}`))
      return `solutions/${folder}/${module} does not exist (imported by ${where}): the reference for chapter ${id} is not there, so run without --reference, or with --reference-below ${Number(id)}`
    return `chapters/${folder}/${module} does not exist (imported by ${where}): restore it with \`git checkout chapters/${folder}/${module}\`, or the chapter's starter with \`npx workbook reset ${Number(id)}\``
  }
  return `${where ? `${where}: ` : ''}${e.text}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`
}

/**
 * Make `${base}.cjs` current for `entry` under `conditions`. `manifest` is the previous
 * build's, if any: when the inputs' content is what it was (a file touched, not changed),
 * only the recorded sizes and times are renewed.
 */
export async function bundle({ root, entry, conditions, base, manifest }) {
  if (manifest) {
    try {
      if (contentHash(root, manifest.inputs.map(([file]) => file)) === manifest.hash) {
        writeAtomically(`${base}.json`, JSON.stringify({ ...manifest, inputs: stats(root, manifest.inputs.map(([file]) => file)) }))
        return
      }
    } catch {} // an input is gone: build anew
  }
  const outfile = `${base}.cjs`
  let result
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      conditions,
      outfile,
      write: false,
      metafile: true,
      sourcemap: 'linked',
      sourcesContent: false,
      logLevel: 'silent',
      // The compiler reads its lib.*.d.ts files next to its own module, and vitest starts its
      // workers from files next to its own: both must load from node_modules.
      external: ['typescript', 'vitest/node'],
      plugins: [importMeta, lazyBuiltins],
    })
  } catch (error) {
    throw new Error(error.errors?.length ? describe(error.errors, conditions) : String(error.message ?? error))
  }
  const files = [...new Set([...ALWAYS, ...Object.keys(result.metafile.inputs).filter((input) => !input.startsWith('lazy-builtin:'))])].sort()
  const hash = contentHash(root, files)
  mkdirSync(dirname(outfile), { recursive: true })
  // Code caches of earlier builds go; the bundle ends with the hash its cache is named by.
  for (const old of readdirSync(dirname(outfile))) if (old.startsWith(`${basename(outfile)}.`) && old.endsWith('.cache')) rmSync(join(dirname(outfile), old), { force: true })
  for (const out of result.outputFiles) writeAtomically(out.path, out.path === outfile ? `${out.text}// inputs ${hash.slice(0, 16)}\n` : out.contents)
  writeAtomically(`${base}.json`, JSON.stringify({ entry: relative(root, join(root, entry)), conditions, hash, inputs: stats(root, files) }))
}

/** Write to a temp file and rename, so a concurrent start sees the old file or the new one. */
function writeAtomically(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, contents)
  renameSync(tmp, path)
}
