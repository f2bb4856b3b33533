// Start a TypeScript entry point under tsx with the resolver conditions that pick each
// chapter's implementation (workbook/conditions.mjs). Conditions are fixed when Node starts,
// hence the second process; its exit code and signal become ours.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { conditionsFor } from '../workbook/conditions.mjs'

export function launch(entry, args, env = process.env) {
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const flags = conditionsFor(env).map((c) => `--conditions=${c}`)
  const result = spawnSync(process.execPath, [...flags, '--import', tsx, fileURLToPath(new URL(entry, import.meta.url)), ...args], {
    stdio: 'inherit',
    env,
  })
  if (result.error) throw result.error
  if (result.signal) process.kill(process.pid, result.signal)
  process.exit(result.status ?? 1)
}
