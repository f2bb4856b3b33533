/**
 * How the chapters compose into one program while some are still starters.
 *
 * The learner's minidocker after chapter N does what chapters 1..N teach. A step from a
 * chapter that is not written yet throws NotImplementedError: optional() turns that into a
 * one-line note and runs without the layer; required() says which chapter the request needs.
 * optional() is told the step's own chapter: a step may call back into a later chapter (chapter
 * 03's setupRootfs runs chapter 09's beforePivot), and that later chapter's NotImplementedError
 * is not the step's absence. It goes on up as it is, naming the function still to write.
 */
import chalk from 'chalk'
import { NotImplementedError } from '../lib/errors.ts'

const noted = new Set<string>()

/** Where notes go: minidocker's stderr, unless a runtime, whose stderr is the container's, sends them to its log. */
let note: (line: string) => void = (line) => process.stderr.write(chalk.dim(`minidocker: ${line}\n`))

export function sendNotesTo(sink: (line: string) => void): void {
  note = sink
}

/**
 * Whether `error` says that chapter `chapter`'s step cannot run because it, or a chapter it
 * builds on (an earlier one), is not written yet.
 */
function absent(error: unknown, chapter: string): error is NotImplementedError {
  return error instanceof NotImplementedError && Number.parseInt(error.chapter, 10) <= Number.parseInt(chapter, 10)
}

/** Run chapter `chapter`'s step; when that chapter (or one below it) is not written yet, note it once and go on. */
export async function optional<T>(chapter: string, step: () => Promise<T> | T, without: string): Promise<T | undefined> {
  try {
    return await step()
  } catch (error) {
    if (!absent(error, chapter)) throw error
    if (!noted.has(error.chapter)) {
      noted.add(error.chapter)
      note(`chapter ${error.chapter} is not done yet, so ${without}`)
    }
    return undefined
  }
}

/** Run a chapter's step that this command cannot do without. */
export async function required<T>(step: () => Promise<T> | T, what: string): Promise<T> {
  try {
    return await step()
  } catch (error) {
    if (error instanceof NotImplementedError)
      throw new Error(`${what} needs chapter ${error.chapter}: ${error.message}`)
    throw error
  }
}
