/**
 * Code in the book comes from the real sources, by name. A chapter's README says
 *
 *     <!-- include: chapters/01-process/process.ts#exitCode -->
 *
 * on a line of its own, and the file marks the region with `// #region exitCode` and
 * `// #endregion exitCode`. The rules:
 *   - PATH is relative to the repository and lies under chapters/, solutions/ or native/;
 *     a missing file or region, or a malformed include line, fails the build with the
 *     chapter file and line;
 *   - chapters/X#R and solutions/X#R name one pair of regions, and both must exist (a
 *     missing half fails every edition). The learner's edition (the default) shows the
 *     starter's region either way, so it never reveals a solution. The instructors' edition
 *     shows what the line names: the solution's region for solutions/X#R, and for
 *     chapters/X#R the starter's followed by the solution's;
 *   - native/ regions show in both editions;
 *   - a region defined in the written chapters' folders or in native/ that nothing uses is a
 *     warning (the folders of planned chapters are left alone until they are written).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, normalize } from 'node:path'

export type Edition = 'learner' | 'instructors'

/** Where includes may point. */
export const INCLUDE_ROOTS = ['chapters/', 'solutions/', 'native/'] as const

/** File kinds that may hold regions, and the highlight.js language for each. */
const LANGUAGES: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.js': 'javascript', '.mjs': 'javascript',
  '.c': 'c', '.h': 'c', '.sh': 'bash', '.json': 'json', '.go': 'go',
}

export const languageOf = (path: string): string => LANGUAGES[extname(path)] ?? 'plaintext'

export interface Region {
  file: string
  name: string
  /** 1-based lines of the #region and #endregion markers */
  start: number
  end: number
  /** the lines in between, without nested markers, dedented */
  code: string
}

/** A failure (fails the build) or a warning, at a place in the sources. */
export interface Problem {
  file: string
  line: number
  message: string
}

export const formatProblem = (p: Problem): string => `${p.file}:${p.line}: ${p.message}`

/** What the book shows for one include line: one or two code blocks. */
export interface CodeInclude {
  region: Region
  /** starter: chapters/; solution: solutions/; native: native/ */
  kind: 'starter' | 'solution' | 'native'
  language: string
}

const MARKER = /^\s*\/\/\s*#(region|endregion)\b\s*(\S*)\s*$/
const INCLUDE = /^\s*<!--\s*include:\s*(\S*?)\s*-->\s*$/
const LOOKS_LIKE_INCLUDE = /<!--\s*include\b/
const FENCE = /^\s{0,3}(`{3,}|~{3,})/

function dedent(lines: string[]): string {
  const indents = lines.filter((l) => l.trim()).map((l) => l.match(/^\s*/)![0].length)
  const cut = indents.length ? Math.min(...indents) : 0
  return lines.map((l) => l.slice(cut)).join('\n').replace(/^\n+|\s+$/g, '')
}

/** Parse the regions of one file. */
export function parseRegions(text: string, file: string): { regions: Map<string, Region>; problems: Problem[] } {
  const regions = new Map<string, Region>()
  const problems: Problem[] = []
  const open: { name: string; line: number }[] = []
  const lines = text.split('\n')
  lines.forEach((line, i) => {
    const m = MARKER.exec(line)
    if (!m) return
    const [, kind, name] = m
    if (!name) {
      problems.push({ file, line: i + 1, message: `#${kind} needs a name` })
    } else if (kind === 'region') {
      if (regions.has(name) || open.some((o) => o.name === name))
        problems.push({ file, line: i + 1, message: `region "${name}" is defined twice` })
      open.push({ name, line: i + 1 })
    } else {
      const at = open.findIndex((o) => o.name === name)
      if (at < 0) {
        problems.push({ file, line: i + 1, message: `#endregion ${name} has no #region ${name} before it` })
        return
      }
      const [start] = open.splice(at, 1)
      const body = lines.slice(start.line, i).filter((l) => !MARKER.test(l))
      regions.set(name, { file, name, start: start.line, end: i + 1, code: dedent(body) })
    }
  })
  for (const o of open) problems.push({ file, line: o.line, message: `region "${o.name}" is never closed (#endregion ${o.name})` })
  return { regions, problems }
}

/** Reads and parses source files once per build. */
export class RegionStore {
  #files = new Map<string, ReturnType<typeof parseRegions> | null>()
  constructor(readonly root: string) {}

  /** null when the file does not exist */
  file(path: string): ReturnType<typeof parseRegions> | null {
    if (!this.#files.has(path)) {
      const full = join(this.root, path)
      this.#files.set(path, existsSync(full) && statSync(full).isFile() ? parseRegions(readFileSync(full, 'utf8'), path) : null)
    }
    return this.#files.get(path)!
  }

  region(path: string, name: string): Region | undefined {
    return this.file(path)?.regions.get(name)
  }
}

export interface ResolveOptions {
  edition: Edition
  /** the chapter file, relative to the root, for messages */
  source: string
}

export interface Resolved {
  /** the markdown with each include line replaced by fenced code blocks tagged `@include:N` */
  markdown: string
  /** indexed by N */
  includes: CodeInclude[]
  /** "path#name" of every region this text uses, whatever the edition */
  used: Set<string>
  errors: Problem[]
}

const kindOf = (path: string): CodeInclude['kind'] =>
  path.startsWith('chapters/') ? 'starter' : path.startsWith('solutions/') ? 'solution' : 'native'

/** A fence longer than any run of backticks in the code, so the code cannot close it. */
function fence(code: string, info: string): string {
  const longest = Math.max(2, ...[...code.matchAll(/`+/g)].map((m) => m[0].length))
  const ticks = '`'.repeat(longest + 1)
  return `${ticks}${info}\n${code}\n${ticks}`
}

/** Replace the include lines of one chapter text. */
export function resolveIncludes(markdown: string, store: RegionStore, options: ResolveOptions): Resolved {
  const includes: CodeInclude[] = []
  const used = new Set<string>()
  const errors: Problem[] = []
  let inFence: string | null = null

  const block = (region: Region): string => {
    const kind = kindOf(region.file)
    includes.push({ region, kind, language: languageOf(region.file) })
    return fence(region.code, `${languageOf(region.file)} @include:${includes.length - 1}`)
  }

  const out = markdown.split('\n').map((line, i) => {
    const at = { file: options.source, line: i + 1 }
    const f = FENCE.exec(line)
    if (f) {
      if (inFence === null) inFence = f[1]
      else if (f[1][0] === inFence[0] && f[1].length >= inFence.length && !line.trim().slice(f[1].length)) inFence = null
      return line
    }
    if (inFence !== null || !LOOKS_LIKE_INCLUDE.test(line)) return line
    const m = INCLUDE.exec(line)
    const target = m?.[1] ?? ''
    const hash = target.indexOf('#')
    if (!m || hash <= 0 || hash === target.length - 1) {
      errors.push({ ...at, message: `malformed include: expected "<!-- include: PATH#REGION -->" alone on its line, saw ${JSON.stringify(line.trim())}` })
      return line
    }
    const path = target.slice(0, hash)
    const name = target.slice(hash + 1)
    if (normalize(path) !== path || !INCLUDE_ROOTS.some((r) => path.startsWith(r))) {
      errors.push({ ...at, message: `include ${target}: the path must lie under ${INCLUDE_ROOTS.join(', ')} (relative to the repository, no "..")` })
      return line
    }
    const file = store.file(path)
    if (!file) {
      errors.push({ ...at, message: `include ${target}: there is no file ${path}` })
      return line
    }
    errors.push(...file.problems.filter((p) => !errors.some((e) => formatProblem(e) === formatProblem(p))))
    const region = file.regions.get(name)
    if (!region) {
      const known = [...file.regions.keys()]
      errors.push({ ...at, message: `include ${target}: ${path} has no region "${name}" (${known.length ? `its regions: ${known.join(', ')}` : 'it marks no regions: add // #region NAME ... // #endregion NAME'})` })
      return line
    }
    used.add(`${path}#${name}`)
    if (kindOf(path) === 'native') return block(region)
    // chapters/X#R and solutions/X#R name the same pair of regions: the starter's and the solution's
    const rel = path.slice(path.indexOf('/') + 1)
    const pair: Region[] = []
    for (const other of [`chapters/${rel}`, `solutions/${rel}`]) {
      const found = other === path ? region : store.region(other, name)
      if (found) {
        used.add(`${other}#${name}`)
        pair.push(found)
      } else {
        errors.push({ ...at, message: `include ${target}: ${other} has no region "${name}"; starter and solution must both mark it, since the learner's edition shows the starter's and the instructors' edition the solution's` })
      }
    }
    if (pair.length < 2) return line
    const [starter, solution] = pair
    if (options.edition === 'learner') return block(starter)
    return kindOf(path) === 'solution' ? block(solution) : [block(starter), block(solution)].join('\n\n')
  })
  return { markdown: out.join('\n'), includes, used, errors }
}

function sourceFiles(root: string, dir: string): string[] {
  const full = join(root, dir)
  if (!existsSync(full)) return []
  return readdirSync(full, { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`
    if (e.isDirectory()) return e.name === 'build' || e.name === 'node_modules' ? [] : sourceFiles(root, rel)
    return extname(e.name) in LANGUAGES ? [rel] : []
  })
}

/**
 * Regions nothing includes, in the given folders (the written chapters' chapters/ and
 * solutions/ folders, and native/). Also reports markers that do not pair up.
 */
export function unusedRegions(store: RegionStore, folders: string[], used: Set<string>): Problem[] {
  const warnings: Problem[] = []
  for (const path of folders.flatMap((d) => sourceFiles(store.root, d))) {
    const parsed = store.file(path)
    if (!parsed) continue
    warnings.push(...parsed.problems)
    for (const region of parsed.regions.values())
      if (!used.has(`${path}#${region.name}`))
        warnings.push({ file: path, line: region.start, message: `region "${region.name}" is never included in the book` })
  }
  return warnings
}
