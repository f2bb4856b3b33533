/**
 * minidockerd: the workbook's dockerd. It serves the Docker Engine API on a unix socket,
 * keeps images in chapter 06's store and containers under ROOT/containers, and runs them
 * through containerd's gRPC API (chapter 11).
 *
 *   minidockerd [-H unix:///run/minidocker/minidocker.sock] [--data-root DIR] [--exec-root DIR]
 *               [--containerd /run/containerd/containerd.sock] [--namespace minidocker]
 *               [--default-runtime io.containerd.runc.v2] [--registry-mirror URL] [--default-network MODE] [--debug]
 *               [--bridge minidocker0|none] [--userns-remap default|USER[:GROUP]|UID[:GID]]
 *               [--cgroup-parent /minidockerd]
 *
 * `--bridge none` leaves the daemon without a bridge, as dockerd's `-b none`: containers get
 * `--network none` or `host` only, and nothing is made in the daemon's network namespace.
 * `--userns-remap` runs every container in a user namespace of NAME's subordinate ranges, with
 * the store in DATA_ROOT/UID.GID (minidocker/remap.ts). `--cgroup-parent` is the cgroup every
 * container's goes below, as dockerd's (whose default is /docker).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Daemon } from '#ch/11-daemon/daemon.ts'
import { route } from '../lib/engine-routes.ts'
import { connectContainerd, RUNC_RUNTIME, type Containerd } from '../lib/containerd.ts'
import { serveUnix, type EngineCall } from '../lib/engine-http.ts'
import { NotImplementedError } from '../lib/errors.ts'
import { DEFAULT_CGROUP_PARENT } from '../lib/engine.ts'
import { DEFAULT_ROOT, prepareStore } from '../lib/image.ts'
import { useRegistryMirror } from '../lib/registry.ts'
import { DEFAULT_BRIDGE } from '../lib/links.ts'
import { openRemappedRoot, remapFor, RemappedDaemon, shiftStoreLayers, withUserNamespace } from './remap.ts'

const USAGE = 'usage: minidockerd [-H unix://SOCKET] [--data-root DIR] [--exec-root DIR] [--containerd SOCKET] [--namespace NS] [--default-runtime SHIM] [--registry-mirror URL] [--default-network none|host] [-D|--debug] [--bridge NAME|none] [--userns-remap NAME] [--cgroup-parent CGROUP]'

function parse(args: string[]) {
  const options = { host: '/run/minidocker/minidocker.sock', root: DEFAULT_ROOT, runRoot: '/run/minidocker', containerd: '/run/containerd/containerd.sock', namespace: 'minidocker', runtime: RUNC_RUNTIME, mirror: '', network: '', debug: '', bridge: DEFAULT_BRIDGE.name, remap: '', cgroupParent: DEFAULT_CGROUP_PARENT }
  const names: Record<string, keyof typeof options> = { '-H': 'host', '--host': 'host', '--data-root': 'root', '--exec-root': 'runRoot', '--containerd': 'containerd', '--namespace': 'namespace', '--default-runtime': 'runtime', '--registry-mirror': 'mirror', '--default-network': 'network', '--bridge': 'bridge', '-b': 'bridge', '--userns-remap': 'remap', '--cgroup-parent': 'cgroupParent' }
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--help' || args[i] === '-h') {
      process.stdout.write(`${USAGE}\n`)
      process.exit(0)
    }
    if (args[i] === '--debug' || args[i] === '-D') {
      options.debug = 'yes'
      continue
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

/**
 * --default-runtime: the containerd shim every container runs under, given by its shim name as
 * dockerd accepts one (io.containerd.minidocker.v2 runs containerd-shim-minidocker-v2). The
 * chapter's startTask asks for runc's; this is where the daemon's choice replaces it.
 */
function withRuntime(containerd: Containerd, runtime: string): Containerd {
  if (runtime === RUNC_RUNTIME) return containerd
  const create = (request: Record<string, unknown>) =>
    containerd.containers.Create({ ...request, container: { ...(request.container as object), runtime: { name: runtime } } })
  const containers = new Proxy(containerd.containers, { get: (target, method) => (method === 'Create' ? create : Reflect.get(target, method)) })
  return { ...containerd, containers }
}

/**
 * --default-network: the network mode of a container created without one ("default", which is
 * dockerd's bridge). With `--bridge none`, `none` lets a plain `run IMAGE` work.
 */
function withDefaultNetwork(call: EngineCall, mode: string): EngineCall {
  if (!mode || call.method !== 'POST' || !/^(\/v[\d.]+)?\/containers\/create$/.test(call.path)) return call
  const body = JSON.parse(call.body.toString('utf8') || '{}') as { HostConfig?: { NetworkMode?: string } }
  if (body.HostConfig?.NetworkMode && body.HostConfig.NetworkMode !== 'default') return call
  body.HostConfig = { ...body.HostConfig, NetworkMode: mode }
  return { ...call, body: Buffer.from(JSON.stringify(body)) }
}

/** A pull: it may have added layers, which a remapping daemon shifts at once. */
const isPull = (call: EngineCall) => call.method === 'POST' && /^(\/v[\d.]+)?\/images\/create$/.test(call.path)

/** --debug: one line per request, as dockerd's debug log has it ("Calling POST /v1.41/containers/create"). */
function logRequest(call: EngineCall): void {
  const query = call.query.toString()
  process.stderr.write(`time="${new Date().toISOString()}" level=debug msg="Calling ${call.method} ${call.path}${query ? `?${query}` : ''}"\n`)
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2))
  // the ranges are read first: a bad NAME or file stops the daemon before it makes anything
  const remap = options.remap ? remapFor(options.remap) : undefined
  if (remap) options.root = openRemappedRoot(options.root, remap)
  else prepareStore(options.root)
  mkdirSync(options.runRoot, { recursive: true, mode: 0o700 })
  mkdirSync(dirname(options.host), { recursive: true })
  if (options.mirror) useRegistryMirror(options.mirror)
  let containerd = withRuntime(connectContainerd(options.containerd, options.namespace), options.runtime)
  if (remap) containerd = withUserNamespace(containerd, remap)
  const bridge = options.bridge === 'none' ? undefined : { ...DEFAULT_BRIDGE, name: options.bridge }
  const daemonOptions = { root: options.root, runRoot: options.runRoot, containerd, cgroupParent: options.cgroupParent, bridge }
  const daemon = remap ? new RemappedDaemon(daemonOptions, remap) : new Daemon(daemonOptions)
  // from here on the daemon hears of exits, and finds the containers that ran on while no daemon was there
  let unwritten: NotImplementedError | undefined
  await daemon.restore().catch((error: unknown) => {
    if (!(error instanceof NotImplementedError)) throw error
    unwritten = error // a daemon that cannot hear of exits runs nothing: a create, start or exec is answered with what is missing
  })
  const runs = (call: EngineCall) => call.method === 'POST' && /\/containers\/(create|[^/]+\/(start|restart|exec))$/.test(call.path)
  // route() answers its own errors; one that escapes it (a chapter not written yet) is a 500, never a dead daemon
  const server = await serveUnix(options.host, 0o660, (call) => {
    if (options.debug) logRequest(call)
    return (unwritten && runs(call) ? Promise.reject(unwritten) : route(daemon, withDefaultNetwork(call, options.network))).then(() => {
      if (remap && isPull(call)) return shiftStoreLayers(options.root, remap)
    }).catch((error: unknown) => {
      const text = `${JSON.stringify({ message: (error as Error).message })}\n`
      if (call.res && !call.res.headersSent) call.res.writeHead(500, { 'Content-Type': 'application/json' }).end(text)
      else if (call.socket) call.socket.end(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
      else call.res?.destroy()
    })
  })
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
