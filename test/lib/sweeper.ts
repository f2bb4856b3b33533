/**
 * One sweepStaleRules() in a process of its own, run by test/lib/sweep.test.ts inside the stand-in host
 * so that every iptables it runs lands there. It says "waiting", starts once the file named by
 * its last argument exists (so that two start within milliseconds of each other), and prints
 * what it swept, or the error it met, as one JSON line.
 */
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { sweepStaleRules } from '../../lib/publish.ts'

async function main(): Promise<void> {
  const go = process.argv.at(-1)!
  process.stdout.write('waiting\n')
  while (!existsSync(go)) await sleep(1)
  try {
    process.stdout.write(JSON.stringify({ swept: await sweepStaleRules() }) + '\n')
  } catch (error) {
    const { name, message, fn } = error as Error & { fn?: string }
    process.stdout.write(JSON.stringify({ error: { name, message, fn } }) + '\n')
  }
}

void main()
