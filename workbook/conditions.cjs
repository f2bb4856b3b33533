// Which implementation of each chapter runs: the learner's (chapters/) or the reference
// (solutions/). package.json's "imports" maps "#ch/NN-slug/..." to solutions/ under the
// condition "ref-NN" and to chapters/ otherwise, so the choice is made by the resolver
// (esbuild's conditions for the commands, resolve.conditions for vitest) and is the same
// everywhere. The variables are inherited, so a daemon's shims and runtimes make its choice.
//
//   WORKBOOK_IMPL=solutions          every chapter from solutions/
//   WORKBOOK_IMPL=chapters (default) every chapter from chapters/
//   WORKBOOK_REFERENCE_BELOW=N       with chapters: chapters below N from solutions/
//
// CommonJS, so that bin/start.cjs loads it without Node's ESM loader (see ARCHITECTURE.md).
'use strict'
const chapters = require('./chapters.json')

/** The resolver conditions for the mode in `env`. */
exports.conditionsFor = function conditionsFor(env = process.env) {
  const below = env.WORKBOOK_IMPL === 'solutions' ? Infinity : Number(env.WORKBOOK_REFERENCE_BELOW ?? 0)
  return chapters.filter((c) => Number(c.id) < below).map((c) => `ref-${c.id}`)
}
