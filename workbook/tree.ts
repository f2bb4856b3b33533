/**
 * A working copy of a workbook tree in a temporary directory: the grader puts a learner's
 * chapters into one, and the CLI's own tests build their fixtures from one.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

/** Never copied: history, dependencies (linked instead), local state, reports, the built book. */
const NOT_COPIED = ['.git', 'node_modules', '.workbook', 'reports', 'scratch', 'book/site']

const under = (rel: string, prefixes: string[]): boolean => prefixes.some((p) => rel === p || rel.startsWith(`${p}/`))

/**
 * Copy `root` into a new temporary directory (its name starts with `prefix`), leaving out
 * NOT_COPIED and `skip` (paths relative to the root). node_modules becomes a symlink to the
 * original's, so the copy runs with the same tools. Returns the directory; the caller removes it.
 */
export function copyWorkbook(root: string, prefix: string, skip: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  try {
    cpSync(root, dir, { recursive: true, filter: (src) => !under(relative(root, src), [...NOT_COPIED, ...skip]) })
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
    return dir
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
