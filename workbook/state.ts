/** What the workbook remembers for a learner (hints revealed), in .workbook/state.json. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './chapters.ts'

export interface State {
  /** chapter id → how many hints have been shown */
  hints: Record<string, number>
}

const file = (root: string) => join(root, '.workbook', 'state.json')

export function loadState(root = ROOT): State {
  try {
    return { hints: {}, ...(JSON.parse(readFileSync(file(root), 'utf8')) as Partial<State>) }
  } catch {
    return { hints: {} }
  }
}

export function saveState(state: State, root = ROOT): void {
  mkdirSync(join(root, '.workbook'), { recursive: true })
  writeFileSync(file(root), JSON.stringify(state, null, 2) + '\n')
}
