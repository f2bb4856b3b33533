/**
 * `workbook reset N`: put a chapter's starter files back, after moving the learner's version
 * aside to .workbook/saved/NN-slug-<time>/, so no work is ever lost.
 *
 * The starter comes from git: the newest commit of chapters/NN-slug/ with the most
 * `throw new NotImplementedError` in it (HEAD's, unless the learner committed work over it),
 * or from `--from`, a git revision or another checkout of the workbook (a fresh clone).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { folderOf, ROOT, type Chapter } from './chapters.ts'

export interface ResetResult {
  /** where the learner's version was moved, relative to the root; none if there was none */
  saved?: string
  /** the files restored, relative to the chapter folder */
  files: string[]
  /** where the starter came from: "git abc1234" or a directory */
  source: string
  /** the folder already held exactly the starter: nothing was moved */
  unchanged: boolean
}

type Files = Map<string, Buffer>

const STUB = 'throw new NotImplementedError'

// execa is imported where it is used: loaded at start, it is most of the workbook command's start-up.
async function git(root: string, args: string[]): Promise<string> {
  const { execa } = await import('execa')
  return (await execa('git', ['-C', root, ...args])).stdout
}

/** The starter files from git history. */
async function fromGit(root: string, folder: string, rev?: string): Promise<{ files: Files; source: string }> {
  const { execa } = await import('execa')
  let prefix: string
  try {
    prefix = await git(root, ['rev-parse', '--show-prefix'])
  } catch {
    throw new Error(`this checkout has no git history to restore chapters/${folder} from: run \`npx workbook reset ${Number(folder.slice(0, 2))} --from PATH\` with PATH a fresh clone of the workbook`)
  }
  const path = `${prefix}chapters/${folder}`
  let commit = rev
  if (!commit) {
    const commits = (await git(root, ['log', '--format=%H', '-n', '50', '--', path])).split('\n').filter(Boolean)
    let best = 0
    for (const c of commits) {
      const counts = await execa('git', ['-C', root, 'grep', '-c', '-F', STUB, c, '--', path], { reject: false })
      const n = counts.stdout.split('\n').reduce((sum, line) => sum + Number(line.split(':').at(-1) || 0), 0)
      if (n > best) [best, commit] = [n, c]
    }
    if (!commit)
      throw new Error(`no starter for chapters/${folder} in this checkout's git history: run \`npx workbook reset ${Number(folder.slice(0, 2))} --from PATH\` with PATH a fresh clone of the workbook`)
  }
  const names = (await git(root, ['ls-tree', '-r', '--name-only', commit, '--', `${path}/`])).split('\n').filter(Boolean)
  if (names.length === 0) throw new Error(`git revision ${commit} has no chapters/${folder}`)
  const files: Files = new Map()
  for (const name of names) {
    const show = await execa('git', ['-C', root, 'show', `${commit}:${name}`], { encoding: 'buffer', stripFinalNewline: false })
    files.set(name.slice(path.length + 1), Buffer.from(show.stdout))
  }
  return { files, source: `git ${commit.slice(0, 7)}` }
}

function readTree(dir: string): Files {
  const files: Files = new Map()
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort())
    if (statSync(join(dir, f)).isFile()) files.set(f, readFileSync(join(dir, f)))
  return files
}

function same(a: Files, b: Files): boolean {
  return a.size === b.size && [...a].every(([name, data]) => b.get(name)?.equals(data) === true)
}

/** A name for the saved copy: NN-slug-20250102-101112 (with -2, -3... if taken). */
function savedDir(root: string, folder: string): string {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-')
  let dir = join(root, '.workbook', 'saved', `${folder}-${stamp}`)
  for (let i = 2; existsSync(dir); i++) dir = join(root, '.workbook', 'saved', `${folder}-${stamp}-${i}`)
  return dir
}

export async function resetChapter(chapter: Chapter, options: { root?: string; from?: string } = {}): Promise<ResetResult> {
  const root = options.root ?? ROOT
  const folder = folderOf(chapter)
  const from = options.from
  const starter =
    from && existsSync(from)
      ? (() => {
          const dir = existsSync(join(from, 'chapters', folder)) ? join(from, 'chapters', folder) : from
          return { files: readTree(dir), source: dir }
        })()
      : await fromGit(root, folder, from)
  const target = join(root, 'chapters', folder)
  let saved: string | undefined
  if (existsSync(target)) {
    if (same(readTree(target), starter.files)) return { files: [...starter.files.keys()], source: starter.source, unchanged: true }
    const dir = savedDir(root, folder)
    mkdirSync(dirname(dir), { recursive: true })
    try {
      renameSync(target, dir)
    } catch {
      cpSync(target, dir, { recursive: true })
      rmSync(target, { recursive: true, force: true })
    }
    saved = relative(root, dir)
  }
  for (const [name, data] of starter.files) {
    mkdirSync(dirname(join(target, name)), { recursive: true })
    writeFileSync(join(target, name), data)
  }
  return { saved, files: [...starter.files.keys()], source: starter.source, unchanged: false }
}
