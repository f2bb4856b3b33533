/**
 * A chapter's fingerprint: a hash of everything its result depends on when it is graded with
 * the reference below it (the learner's folder for it, its tests, the shared test tools, lib/,
 * the helper's sources, the reference chapters below), and of who runs it (root or not).
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { folderOf, loadChapters, ROOT, type Chapter } from './chapters.ts'

function files(root: string, dir: string): string[] {
  const full = join(root, dir)
  if (!existsSync(full)) return []
  if (!statSync(full).isDirectory()) return [dir]
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.split('/').includes('build') && statSync(join(full, f)).isFile())
    .sort()
    .map((f) => join(dir, f))
}

export function fingerprint(chapter: Chapter, root = ROOT): string {
  const below = loadChapters(root).filter((c) => !c.planned && c.id < chapter.id)
  const inputs = [
    `chapters/${folderOf(chapter)}`,
    chapter.tests,
    'test/support',
    'lib',
    'native',
    'vitest.config.ts',
    ...below.map((c) => `solutions/${folderOf(c)}`),
  ]
  const hash = createHash('sha256').update(`${process.platform} uid=${process.getuid?.()} ${process.version}\n`)
  for (const dir of inputs) for (const f of files(root, dir)) hash.update(`${f}\0`).update(readFileSync(join(root, f))).update('\0')
  return hash.digest('hex').slice(0, 16)
}
