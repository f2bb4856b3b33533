/**
 * A run of chapter 08's IPAM in a process of its own, for lock.test.ts to kill. With "loop" it
 * allocates and releases an address over and over, saying "looping" after its first round; with
 * a number N it allocates once and kills itself with SIGKILL right after its Nth call that
 * changes the file system, or says "done" when it finished first. An error is one JSON line.
 */
import { allocate, release } from '../../lib/addresses.ts'
import { dieAfter } from '../support/dying.ts'

const [dir, subnet, mode] = process.argv.slice(-3) as [string, string, string]

async function main(): Promise<void> {
  try {
    if (mode !== 'loop') {
      dieAfter(Number(mode))
      await allocate(dir, subnet, process.pid)
      process.stdout.write('done\n')
      return
    }
    for (let round = 0; ; round++) {
      const lease = await allocate(dir, subnet, process.pid)
      await release(dir, lease.address)
      if (round === 0) process.stdout.write('looping\n')
    }
  } catch (error) {
    const { name, message, fn } = error as Error & { fn?: string }
    process.stdout.write(JSON.stringify({ error: { name, message, fn } }) + '\n')
  }
}

void main()
