// Which implementation of each chapter runs: the learner's (chapters/) or the reference
// (solutions/). package.json's "imports" maps "#ch/NN-slug/..." to solutions/ under the
// condition "ref-NN" and to chapters/ otherwise, so the choice is made by the resolver
// (Node's --conditions for tsx, resolve.conditions for vitest) and is the same everywhere.
//
//   WORKBOOK_IMPL=solutions          every chapter from solutions/
//   WORKBOOK_IMPL=chapters (default) every chapter from chapters/
//   WORKBOOK_REFERENCE_BELOW=N       with chapters: chapters below N from solutions/
import { readFileSync } from 'node:fs'

const chapters = JSON.parse(readFileSync(new URL('./chapters.json', import.meta.url), 'utf8'))

/** The resolver conditions for the mode in `env`. */
export function conditionsFor(env = process.env) {
  const below = env.WORKBOOK_IMPL === 'solutions' ? Infinity : Number(env.WORKBOOK_REFERENCE_BELOW ?? 0)
  return chapters.filter((c) => Number(c.id) < below).map((c) => `ref-${c.id}`)
}
