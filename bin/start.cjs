// Starts a TypeScript entry point (minidocker/cli.ts, workbook/cli.ts, ...) in this one Node
// process. The entry is bundled by bin/build.mjs with esbuild, with the resolver conditions
// that pick each chapter's implementation applied at build time, into .workbook/build/; a
// start whose inputs are unchanged only stats them and loads the bundle. See ARCHITECTURE.md.
//
// CommonJS on purpose: this file, the bundle and workbook/conditions.cjs load without Node's
// ESM loader, and nothing here loads what a warm start does not need (no esbuild, no crypto).
'use strict'
const { readFileSync, renameSync, statSync, writeFileSync } = require('node:fs')
const { createRequire, SourceMap } = require('node:module')
const { join, resolve } = require('node:path')
const vm = require('node:vm')
const { conditionsFor } = require('../workbook/conditions.cjs')

const ROOT = join(__dirname, '..')

/** The bundle's path without extension: one per entry and choice of implementation. */
function bundleBase(entry, conditions) {
  const impl = conditions.length ? `ref${conditions.map((c) => c.slice(4)).join('')}` : 'chapters'
  return join(ROOT, '.workbook', 'build', `${entry.replace(/\.ts$/, '').replaceAll('/', '_')}.${impl}`)
}

/** True when every input has the size and mtime the manifest recorded. */
function unchanged(manifest) {
  for (const [file, size, mtime] of manifest.inputs) {
    let s
    try {
      s = statSync(join(ROOT, file))
    } catch {
      return false
    }
    if (s.size !== size || s.mtimeMs !== mtime) return false
  }
  return true
}

/**
 * Run `entry` (a path from the workbook's root) as this process's program, with the chapters
 * chosen by WORKBOOK_IMPL and WORKBOOK_REFERENCE_BELOW. `name` is the command's name for
 * messages; with `implFlags`, a leading `--reference` or `--reference-below N` sets them.
 */
function start(name, entry, { implFlags = false } = {}) {
  if (implFlags) takeImplFlags(name)
  const conditions = conditionsFor(process.env)
  const base = bundleBase(entry, conditions)
  let manifest
  try {
    manifest = JSON.parse(readFileSync(`${base}.json`, 'utf8'))
  } catch {}
  if (manifest && unchanged(manifest)) return run(`${base}.cjs`)
  import('./build.mjs')
    .then(
      (build) => build.bundle({ root: ROOT, entry, conditions, base, manifest }),
      (error) => {
        throw new Error(error.code === 'ERR_MODULE_NOT_FOUND' ? NOT_INSTALLED : error.message)
      },
    )
    .then(
      () => run(`${base}.cjs`),
      (error) => {
        console.error(`${name}: ${error.message}`)
        process.exit(2)
      },
    )
}

const NOT_INSTALLED =
  process.platform === 'linux'
    ? 'the dependencies are not installed: run `bash vm/provision.sh` in the workbook folder (as root, see README.md)'
    : `this is ${process.platform}, not Linux: containers are Linux kernel features, so work in the VM (see vm/README.md)`

/**
 * Run the bundle as a CommonJS module, compiled from V8's code cache when there is one:
 * compiling the bundle is most of a warm start otherwise. The cache is written at exit, so it
 * holds every function this run compiled. It is named by the inputs' hash that ends the
 * bundle, because V8 checks only a cache's source length: a cache of an older bundle of the
 * same length would run the older code.
 */
function run(file) {
  const source = readFileSync(file, 'utf8')
  const cacheFile = `${file}.${/\/\/ inputs (\w+)\s*$/.exec(source)?.[1]}.cache`
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {}
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new vm.Script(wrapper, { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
  if (!cachedData || script.cachedDataRejected)
    process.once('exit', () => {
      try {
        writeFileSync(`${cacheFile}.${process.pid}.tmp`, script.createCachedData())
        renameSync(`${cacheFile}.${process.pid}.tmp`, cacheFile)
      } catch {} // a cache that cannot be written costs time, nothing else
    })
  mapStackTraces(file)
  const module = { exports: {}, filename: file, id: file }
  script.runInThisContext()(module.exports, createRequire(file), module, file, join(file, '..'))
}

/**
 * Stack traces name the TypeScript source, line and column, not the bundle's: the source map
 * is read only when a stack is first formatted (Node's own source-map support would parse
 * it at every start).
 */
function mapStackTraces(file) {
  let map
  Error.prepareStackTrace = (error, frames) => {
    map ??= new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')))
    const lines = frames.map((frame) => {
      const entry = frame.getFileName() === file && map.findEntry(frame.getLineNumber() - 1, frame.getColumnNumber() - 1)
      if (!entry?.originalSource) return `    at ${frame}`
      const source = resolve(join(file, '..'), entry.originalSource)
      const fn = frame.getFunctionName()
      const where = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`
      return `    at ${fn ? `${fn} (${where})` : where}`
    })
    return `${error}\n${lines.join('\n')}`
  }
}

/** Process `--reference` and `--reference-below N` at the front of argv into the variables. */
function takeImplFlags(name) {
  const args = process.argv
  if (args[2] === '--reference') {
    args.splice(2, 1)
    process.env.WORKBOOK_IMPL = 'solutions'
    delete process.env.WORKBOOK_REFERENCE_BELOW
  } else if (args[2] === '--reference-below') {
    const n = args[3]
    if (!/^\d+$/.test(n ?? '')) {
      console.error(`${name}: --reference-below needs a chapter number, e.g. --reference-below 4`)
      process.exit(2)
    }
    args.splice(2, 2)
    process.env.WORKBOOK_IMPL = 'chapters'
    process.env.WORKBOOK_REFERENCE_BELOW = String(Number(n))
  }
}

module.exports = { start, bundleBase, ROOT }
