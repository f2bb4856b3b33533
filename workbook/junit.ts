/**
 * JUnit XML for a grading report, the format every CI understands: one <testsuite> per chapter,
 * one <testcase> per test, <failure> with the teaching message, <skipped/> for skipped tests.
 */
import type { CheckoutReport } from './grade.ts'

// Characters XML 1.0 cannot hold at all (control characters other than tab, LF and CR).
// eslint-disable-next-line no-control-regex
const INVALID = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g

export function escapeXml(text: string): string {
  return text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

const attrs = (pairs: Record<string, string | number>): string =>
  Object.entries(pairs)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('')

const secs = (ms: number): string => (ms / 1000).toFixed(3)

export function junitXml(report: CheckoutReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>']
  const count = (s: 'passed' | 'failed' | 'skipped') => report.chapters.reduce((n, c) => n + c[s], 0)
  out.push(
    `<testsuites${attrs({ name: `workbook: ${report.name}`, tests: report.total, failures: count('failed'), errors: 0, skipped: count('skipped'), time: secs(report.durationMs) })}>`,
  )
  for (const c of report.chapters) {
    out.push(
      `  <testsuite${attrs({ name: c.folder, tests: c.total, failures: c.failed, errors: 0, skipped: c.skipped, time: secs(c.durationMs), timestamp: report.gradedAt.replace(/\.\d+Z$/, '') })}>`,
    )
    out.push(`    <properties>`)
    out.push(`      <property${attrs({ name: 'score', value: c.score })}/>`)
    out.push(`      <property${attrs({ name: 'mode', value: c.referenceBelow ? `learner's code, reference below ${c.id}` : "learner's code for every chapter" })}/>`)
    for (const note of c.notes) out.push(`      <property${attrs({ name: 'note', value: note })}/>`)
    out.push(`    </properties>`)
    for (const t of c.tests) {
      const head = `    <testcase${attrs({ classname: t.file, name: t.name, time: secs(t.durationMs) })}`
      if (t.status === 'passed') out.push(`${head}/>`)
      else if (t.status === 'skipped') out.push(`${head}>`, `      <skipped/>`, `    </testcase>`)
      else {
        const failure = t.failure ?? 'failed'
        const type = /^(\w*Error)\b/.exec(failure)?.[1] ?? 'AssertionError'
        out.push(`${head}>`, `      <failure${attrs({ message: failure.split('\n')[0]!, type })}>${escapeXml(failure)}</failure>`, `    </testcase>`)
      }
    }
    out.push(`  </testsuite>`)
  }
  out.push(`</testsuites>`, '')
  return out.join('\n')
}
