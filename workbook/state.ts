/**
 * What the workbook remembers for a learner, in .workbook/state.json (gitignored): hints shown,
 * and each chapter's last result with a fingerprint of the files it depends on, so `workbook`
 * re-runs only the chapters whose files changed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './chapters.ts'

export interface SavedResult {
  /** fingerprint of the chapter's files, tests and the code it ran with (fingerprint.ts) */
  key: string
  status: 'done' | 'in progress' | 'not started'
  passed: number
  total: number
}

export interface State {
  /** chapter id → how many hints have been shown */
  hints: Record<string, number>
  /** chapter id → its last result */
  results: Record<string, SavedResult>
}

const file = (root: string) => join(root, '.workbook', 'state.json')

export function loadState(root = ROOT): State {
  try {
    return { hints: {}, results: {}, ...(JSON.parse(readFileSync(file(root), 'utf8')) as Partial<State>) }
  } catch {
    return { hints: {}, results: {} }
  }
}

export function saveState(state: State, root = ROOT): void {
  mkdirSync(join(root, '.workbook'), { recursive: true })
  writeFileSync(file(root), JSON.stringify(state, null, 2) + '\n')
}

/** Load, change and save in one step (so two callers never write stale halves). */
export function updateState(change: (state: State) => void, root = ROOT): State {
  const state = loadState(root)
  change(state)
  saveState(state, root)
  return state
}
