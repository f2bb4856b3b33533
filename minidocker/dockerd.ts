/**
 * minidockerd: the workbook's dockerd. It serves the Docker Engine API on a unix socket,
 * keeps images in chapter 06's store and containers under ROOT/containers, and runs them
 * through containerd's gRPC API (chapter 11).
 *
 *   minidockerd [-H unix:///run/minidocker/minidocker.sock] [--data-root DIR] [--exec-root DIR]
 *               [--containerd /run/containerd/containerd.sock] [--namespace minidocker] [--bridge minidocker0|none]
 *
 * `--bridge none` leaves the daemon without a bridge, as dockerd's `-b none`: containers get
 * `--network none` or `host` only, and nothing is made in the daemon's network namespace.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Daemon } from '#ch/11-daemon/daemon.ts'
import { route } from '#ch/11-daemon/routes.ts'
import { connectContainerd } from '../lib/containerd.ts'
import { serveUnix } from '../lib/engine-http.ts'
import { DEFAULT_ROOT, prepareStore } from '../lib/image.ts'
import { DEFAULT_BRIDGE } from '#ch/08-network/links.ts'

const USAGE = 'usage: minidockerd [-H unix://SOCKET] [--data-root DIR] [--exec-root DIR] [--containerd SOCKET] [--namespace NS] [--bridge NAME|none]'

function parse(args: string[]) {
  const options = { host: '/run/minidocker/minidocker.sock', root: DEFAULT_ROOT, runRoot: '/run/minidocker', containerd: '/run/containerd/containerd.sock', namespace: 'minidocker', bridge: DEFAULT_BRIDGE.name }
  const names: Record<string, keyof typeof options> = { '-H': 'host', '--host': 'host', '--data-root': 'root', '--exec-root': 'runRoot', '--containerd': 'containerd', '--namespace': 'namespace', '--bridge': 'bridge', '-b': 'bridge' }
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--help' || args[i] === '-h') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    }
    const [flag, inline] = args[i]!.split(/=(.*)/s)
    const key = names[flag!]
    const value = inline ?? args[++i]
    if (!key || value === undefined) throw new Error(`minidockerd: unknown or incomplete flag ${args[i - (inline === undefined ? 1 : 0)]}\n${USAGE}`)
    options[key] = value
  }
  options.host = options.host.replace(/^unix:\/\//, '')
  return options
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2))
  prepareStore(options.root)
  mkdirSync(options.runRoot, { recursive: true, mode: 0o700 })
  mkdirSync(dirname(options.host), { recursive: true })
  const daemon = new Daemon({ root: options.root, runRoot: options.runRoot, containerd: connectContainerd(options.containerd, options.namespace),
    bridge: options.bridge === 'none' ? undefined : { ...DEFAULT_BRIDGE, name: options.bridge } })
  await daemon.restore() // containers that ran on while no daemon was there
  // route() answers its own errors; one that escapes it (a chapter not written yet) is a 500, never a dead daemon
  const server = await serveUnix(options.host, 0o660, (call) => route(daemon, call).catch((error: unknown) => {
    const text = `${JSON.stringify({ message: (error as Error).message })}\n`
    if (call.res && !call.res.headersSent) call.res.writeHead(500, { 'Content-Type': 'application/json' }).end(text)
    else if (call.socket) call.socket.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
    else call.res?.destroy()
  }))
  process.stderr.write(`minidockerd: API listening on ${options.host}\n`)
  const stop = () => {
    server.close()
    daemon.close()
    process.exit(0)
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`minidockerd: ${(error as Error).message}\n`)
  process.exit(1)
})
