/**
 * One connectContainer() in a process of its own, run by connect.test.ts inside the stand-in
 * host so that every `ip` it runs lands there: the bridge first (the given ensureBridge), then
 * the container whose PID is the first argument, with the lease the next three name (address,
 * prefix, gateway). Prints the host end's name, or the error it met, as one JSON line.
 */
import { connectContainer, DEFAULT_BRIDGE, ensureBridge } from '../../lib/links.ts'

async function main(): Promise<void> {
  const [pid, address, prefix, gateway] = process.argv.slice(-4) as [string, string, string, string]
  try {
    await ensureBridge(DEFAULT_BRIDGE, '172.29.0.1', 16)
    const host = await connectContainer(Number(pid), DEFAULT_BRIDGE, { address, prefix: Number(prefix), gateway })
    process.stdout.write(JSON.stringify({ host }) + '\n')
  } catch (error) {
    const { name, message } = error as Error
    process.stdout.write(JSON.stringify({ error: { name, message } }) + '\n')
  }
}

void main()
