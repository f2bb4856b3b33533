/**
 * The problems a learner can hit before any test runs, each as one line that says what to do.
 * Fatal ones stop the command; warnings are printed and the command goes on.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { folderOf, ROOT, writtenChapters } from './chapters.ts'

export interface Problems {
  fatal: string[]
  warnings: string[]
}

/** What the checks look at: this machine, unless a test says otherwise. */
export interface Machine {
  platform: NodeJS.Platform
  uid: number | undefined
}

const thisMachine = (): Machine => ({ platform: process.platform, uid: process.getuid?.() })

/** Linux, root, the native helper. */
export function environmentProblems(root = ROOT, machine = thisMachine()): Problems {
  if (machine.platform !== 'linux')
    return {
      fatal: [`this is ${machine.platform}, not Linux: containers are Linux kernel features, so work in the VM (see vm/README.md)`],
      warnings: [],
    }
  const fatal: string[] = []
  const warnings: string[] = []
  if (!existsSync(join(root, 'native/build/minidocker-helper')))
    fatal.push('the native helper is not built (native/build/minidocker-helper is missing): run `npm install`')
  if (machine.uid !== 0)
    warnings.push('you are not root, so the kernel tests will skip and chapters past 01 cannot pass: run as root, or in the VM (see vm/README.md)')
  return { fatal, warnings }
}

/** Chapter folders (of `chapters`, by default every written one) missing or renamed in chapters/. */
export function folderProblems(root = ROOT, chapters = writtenChapters(root)): string[] {
  const present = existsSync(join(root, 'chapters'))
    ? readdirSync(join(root, 'chapters'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)
    : []
  const problems: string[] = []
  for (const c of chapters) {
    const folder = folderOf(c)
    if (present.includes(folder)) continue
    const renamed = present.find((d) => d.startsWith(`${c.id}-`) || d.startsWith(`${c.id}_`) || d.endsWith(c.slug))
    problems.push(
      renamed
        ? `chapters/${renamed} should be chapters/${folder}: rename it back (mv chapters/${renamed} chapters/${folder}), or run \`npx workbook reset ${Number(c.id)}\` for a fresh starter`
        : `chapters/${folder} is missing: run \`npx workbook reset ${Number(c.id)}\` to restore its starter`,
    )
  }
  return problems
}
