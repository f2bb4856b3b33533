/**
 * `minidocker-proxy`: the userland proxy for one published port, started by `run -p` (chapter
 * 08's publishPorts) with docker-proxy's flags. It prints "ready" once it listens, forwards until
 * its stdin closes (the run that started it has ended, or died), then exits.
 */
import { proxyTcp, proxyUdp } from '../lib/userland-proxy.ts'

const USAGE = 'usage: minidocker-proxy -proto tcp|udp -host-ip IP -host-port PORT -container-ip IP -container-port PORT'

function flags(argv: string[]): Record<string, string> {
  const values: Record<string, string> = {}
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i]!.startsWith('-') || argv[i + 1] === undefined) throw new Error(USAGE)
    values[argv[i]!.replace(/^-+/, '')] = argv[i + 1]!
  }
  for (const name of ['proto', 'host-ip', 'host-port', 'container-ip', 'container-port']) if (!values[name]) throw new Error(USAGE)
  return values
}

async function main(): Promise<void> {
  if (['--help', '-h', 'help'].includes(process.argv[2] ?? '')) return void console.log(USAGE)
  const f = flags(process.argv.slice(2))
  if (f.proto !== 'tcp' && f.proto !== 'udp') throw new Error(`unsupported protocol "${f.proto}"\n${USAGE}`)
  const target = { proto: f.proto, hostIp: f['host-ip']!, hostPort: Number(f['host-port']), containerIp: f['container-ip']!, containerPort: Number(f['container-port']) } as const
  const proxy = await (f.proto === 'tcp' ? proxyTcp(target) : proxyUdp(target))
  process.stdout.write('ready\n')
  process.stdin.on('end', () => void proxy.close().then(() => process.exit(0)))
  process.stdin.resume()
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
