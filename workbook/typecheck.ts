/**
 * The compiler's word on a chapter's files before its tests run: tsx and vitest strip types
 * without checking them, so a learner's type error would otherwise surface only as a wrong
 * result at run time, or never.
 */
import { join, relative } from 'node:path'
import chalk from 'chalk'
import ts from 'typescript'
import { chapterFiles, folderOf, ROOT, type Chapter } from './chapters.ts'

/** "chapters/01-process/process.ts:12:5 Type 'string' is not assignable ..." for each error in the chapter's files. */
export function typeErrors(chapter: Chapter, root = ROOT): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  if (!config) return []
  const files = chapterFiles(chapter, root).map((f) => join(root, f))
  const program = ts.createProgram(files, config.options)
  const mine = new Set(files)
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && mine.has(d.file.fileName))
    .map((d) => {
      const { line, character } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
      return `${relative(root, d.file!.fileName)}:${line + 1}:${character + 1} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
}

/** The errors as `check` and `watch` show them before the tests: nothing when there are none. */
export function typeErrorLines(chapter: Chapter, root = ROOT): string[] {
  const errors = typeErrors(chapter, root)
  if (errors.length === 0) return []
  return [
    chalk.yellow(`Your code in chapters/${folderOf(chapter)}/ does not type-check (the tests run anyway):`),
    ...errors.slice(0, 10).map((e) => `  ${e}`),
    ...(errors.length > 10 ? [chalk.dim(`  ... and ${errors.length - 10} more (npx tsc --noEmit)`)] : []),
    '',
  ]
}
