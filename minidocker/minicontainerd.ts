/**
 * minicontainerd's entry (bin/minicontainerd.cjs): chapter 10's containerd, serving gRPC on
 * --address with containerd's service names, its metadata and bundles under --root.
 */
import { Minicontainerd } from '../lib/minicontainerd.ts'

const USAGE = 'usage: minicontainerd --root DIR --address SOCKET\n' +
  'Serves containerd\'s version, containers and tasks services on SOCKET (the real `ctr --address SOCKET` talks to it) and the shims\' events on SOCKET.ttrpc.'

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}

const root = flag('--root')
const address = flag('--address')
if (process.argv.includes('--help') || !root || !address) {
  console.log(USAGE)
  process.exit(process.argv.includes('--help') ? 0 : 2)
}
const server = new Minicontainerd(root, address)
server.start().then(
  () => console.error(`minicontainerd: serving on ${address}`),
  (error: Error) => {
    console.error(`minicontainerd: ${error.message}`)
    process.exit(1)
  },
)
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.stop().then(() => process.exit(0)))
