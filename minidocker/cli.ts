/**
 * The learner's container tool. Run it as `npx minidocker ...`; `--reference` runs the
 * reference solutions instead of chapters/, `--reference-below N` only for the chapters below
 * N (see workbook/conditions.cjs and bin/start.cjs).
 */
import { randomBytes } from 'node:crypto'
import chalk from 'chalk'
import { buildEnv } from '#ch/01-process/process.ts'
import { CHAPTER_NAMESPACES } from '#ch/02-namespaces/namespaces.ts'
import { NETWORK_MODES, type NetworkMode, type NetworkRequest } from '../lib/net.ts'
import { parsePublish } from '../lib/publish.ts'
import { ContainerError } from '../lib/errors.ts'
import { DEFAULT_ROOT, prepareStore } from '../lib/image.ts'
import { baseSpec, checkId, DEFAULT_MOUNTS, type Resources, type Spec } from '../lib/oci.ts'
import { parseVolume } from '../lib/volumes.ts'
import { CLIENT_USAGE, clientCall, clientCommand, daemonHost } from './client.ts'
import { runContainer } from './container.ts'
import { imageRootfs } from './image.ts'
import { IMAGES_USAGE, imageCommand, withImageConfig } from './images.ts'
import { required } from './layers.ts'
import { pull } from './pull.ts'
import { parseSize } from './sizes.ts'

const USAGE = `usage: minidocker [--reference | --reference-below N] [-H unix:///SOCKET] COMMAND

commands:
  run [OPTIONS] IMAGE COMMAND [ARG...]  run a command in a new container
  run [OPTIONS] -- COMMAND [ARG...]     the same in the host's root filesystem
  pull [--platform P] NAME[:TAG|@DIGEST]
                                        pull an image from a registry into the store

${IMAGES_USAGE}

${CLIENT_USAGE}

IMAGE is a rootfs directory, a rootfs tarball, an image in the store, or a built-in
image: probe, busybox

run options:
  -e, --env KEY[=VALUE]    set an environment variable (repeatable)
  --env-file FILE          read environment variables from a file (repeatable)
  -w, --workdir DIR        working directory inside the container
  -h, --hostname NAME      the container's hostname
  -u, --user USER[:GROUP]  the user to run as (a name or ID, looked up in the image)
  -v, --volume HOST:CONTAINER[:ro]
                           bind-mount a host path (repeatable)
  --memory SIZE            memory limit: 64m, 1g, 512k or bytes
  --cpus N                 CPU limit in CPUs, e.g. 0.5
  --pids N                 limit on the number of processes
  --network MODE           bridge (the default with an IMAGE), none (lo only) or host
                           (the default without; MINIDOCKER_NETWORK changes the default)
  -p, --publish [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp]
                           publish a container's port on the host (repeatable)`

/** Options for `run`, as docker parses them: flags first, then the image and command, untouched. */
export interface RunOptions {
  env: string[]
  envFiles: string[]
  volumes: string[]
  publish: string[]
  network?: string
  workdir?: string
  hostname?: string
  user?: string
  memory?: string
  cpus?: string
  pids?: string
  /** absent for `run -- COMMAND`, which runs in the host's root filesystem */
  image?: string
  command: string[]
}

type Flag = 'env' | 'envFiles' | 'volumes' | 'publish' | 'network' | 'workdir' | 'hostname' | 'user' | 'memory' | 'cpus' | 'pids'

const VALUE_FLAGS: Record<string, Flag> = {
  '-e': 'env', '--env': 'env', '--env-file': 'envFiles', '-w': 'workdir', '--workdir': 'workdir', '-h': 'hostname',
  '--hostname': 'hostname', '-u': 'user', '--user': 'user', '-v': 'volumes', '--volume': 'volumes', '--memory': 'memory', '-m': 'memory',
  '--cpus': 'cpus', '--pids': 'pids', '--pids-limit': 'pids', '-p': 'publish', '--publish': 'publish', '--network': 'network', '--net': 'network',
}

export function parseRun(args: string[]): RunOptions {
  const options: RunOptions = { env: [], envFiles: [], volumes: [], publish: [], command: [] }
  let i = 0
  let imageless = false
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') { i++; imageless = true; break }
    if (!arg.startsWith('-')) break
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const key = VALUE_FLAGS[flag]
    if (!key) throw new ContainerError(`unknown flag: ${flag}\n\n${USAGE}`, 125)
    const value = inline ?? args[++i]
    if (value === undefined) throw new ContainerError(`flag needs an argument: ${flag}`, 125)
    if (key === 'env' || key === 'envFiles' || key === 'volumes' || key === 'publish') options[key].push(value)
    else options[key] = value
  }
  if (!imageless) options.image = args[i++]
  options.command = args.slice(i)
  if (options.command.length === 0 && options.image === undefined) throw new ContainerError(`"run" requires an image and a command to run\n\n${USAGE}`, 125)
  return options
}

/**
 * -u UID[:GID] for a root filesystem without an image config. An image from the store resolves
 * names in its own /etc/passwd instead (chapter 06's applyImageConfig replaces this).
 */
function numericUser(text: string): NonNullable<Spec['process']['user']> {
  const match = /^(\d+)(?::(\d+))?$/.exec(text)
  if (!match) throw new ContainerError(`-u ${text}: only an image from the store has an /etc/passwd to look a name up in; give UID[:GID]`, 125)
  return { uid: checkId(match[1]!, 'uid'), gid: checkId(match[2] ?? match[1]!, 'gid') }
}

function positive(flag: string, text: string, integer: boolean): number {
  const n = Number(text)
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new ContainerError(`invalid ${flag} "${text}": expected a positive ${integer ? 'integer' : 'number'}`, 125)
  return n
}

/** --memory, --cpus and --pids as linux.resources (CFS quota per 100 ms period, as Docker sets it). */
function resources(options: RunOptions): Resources {
  const r: Resources = {}
  if (options.memory !== undefined) r.memory = { limit: parseSize(options.memory) }
  if (options.cpus !== undefined) r.cpu = { quota: Math.round(positive('--cpus', options.cpus, false) * 100_000), period: 100_000 }
  if (options.pids !== undefined) r.pids = { limit: positive('--pids', options.pids, true) }
  return r
}

/**
 * `--network` and `-p` as chapter 08's request, checked before anything is created. Without an
 * IMAGE the container shares the host's network, as it shares its root filesystem.
 */
async function networkRequest(options: RunOptions, rootfs: string | undefined, hostname: string | undefined): Promise<NetworkRequest> {
  const mode = (options.network ?? process.env.MINIDOCKER_NETWORK ?? (rootfs === undefined ? 'host' : 'bridge')) as NetworkMode
  if (!NETWORK_MODES.includes(mode)) throw new ContainerError(`invalid --network "${mode}": expected ${NETWORK_MODES.join(', ')}`, 125)
  if (options.publish.length > 0 && mode !== 'bridge') throw new ContainerError(`-p needs --network bridge: with --network ${mode} there is no container address to publish`, 125)
  const ports = await required(() => options.publish.map(parsePublish), '-p')
  const id = randomBytes(32).toString('hex')
  return { mode, ports, root: DEFAULT_ROOT, id, hostname: hostname ?? id.slice(0, 12), files: rootfs !== undefined }
}

/** The config.json of the container these options describe, with its rootfs at `rootfs`. */
async function runSpec(options: RunOptions, rootfs: string | undefined, network: NetworkMode): Promise<Spec> {
  // Without -e or --env-file the env is Docker's default PATH alone, which needs no chapter.
  const asked = options.env.length > 0 || options.envFiles.length > 0
  const env = asked ? await required(() => buildEnv(options.env, process.env, options.envFiles), options.envFiles.length > 0 ? 'run --env-file' : 'run -e') : undefined
  const spec = baseSpec(options.command, env)
  if (options.workdir) spec.process.cwd = options.workdir
  if (options.hostname !== undefined) spec.hostname = options.hostname
  const namespaces = [...CHAPTER_NAMESPACES, ...(rootfs === undefined ? [] : ['mount' as const]), ...(network === 'host' ? [] : ['network' as const])]
  spec.linux = {
    namespaces: namespaces.map((type) => ({ type })),
    resources: resources(options),
    // MINIDOCKER_CGROUP_PARENT moves it, as dockerd's --cgroup-parent does (tests give each stand-in host its own)
    cgroupsPath: `${process.env.MINIDOCKER_CGROUP_PARENT ?? 'minidocker'}/${randomBytes(6).toString('hex')}`,
  }
  const volumes = await required(() => options.volumes.map(parseVolume), '-v')
  if (rootfs === undefined) {
    if (volumes.length > 0) throw new ContainerError('-v needs an IMAGE: volumes are mounted into its root filesystem', 125)
    return spec
  }
  spec.root = { path: rootfs }
  spec.mounts = [...DEFAULT_MOUNTS, ...volumes]
  return spec
}

async function run(args: string[]): Promise<number> {
  const options = parseRun(args)
  const image = options.image === undefined ? undefined : await imageRootfs(options.image)
  try {
    const network = await networkRequest(options, image?.rootfs, options.hostname)
    let spec = await runSpec(options, image?.rootfs, network.mode)
    if (image?.config) spec = await withImageConfig(spec, image.config, options, image.rootfs)
    else if (options.user !== undefined) spec.process.user = numericUser(options.user)
    const exit = await runContainer(spec, network)
    if (exit.oomKilled) console.error(chalk.red(`minidocker: the container was OOM-killed: it went past its memory limit (--memory ${options.memory})`))
    return exit.code
  } finally {
    await image?.release()
  }
}

const STORE_COMMANDS = ['run', 'pull', 'images', 'rmi', 'inspect', 'load']

async function main(argv: string[]): Promise<number> {
  const client = clientCall(argv, process.env)
  if (client) return clientCommand(client.host, client.command, client.args)
  const [command, ...rest] = daemonHost(argv, process.env).args
  if (STORE_COMMANDS.includes(command!)) prepareStore(DEFAULT_ROOT)
  switch (command) {
    case 'run':
      return run(rest)
    case 'pull':
      return pull(rest)
    case 'images':
    case 'rmi':
    case 'inspect':
    case 'load':
      return (await imageCommand(command, rest))!
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return command === undefined ? 1 : 0
    default:
      throw new ContainerError(`unknown command "${command}"\n\n${USAGE}`, 125)
  }
}

/**
 * Exit once what was written to stdout and stderr has gone out: a pipe takes it at its reader's
 * pace, and process.exit drops what it still holds. A failed output holds nothing back.
 */
async function exit(code: number): Promise<never> {
  // an empty write calls back once every write before it has gone out ('drain' comes only
  // after a write that was told to wait, and a pending write below the mark gets none)
  const flushed = (stream: NodeJS.WritableStream & { writableLength: number; destroyed: boolean }) => new Promise((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) return resolve(undefined)
    stream.once('error', resolve) // the reader went away meanwhile: nothing more will go out
    stream.write('', () => resolve(undefined))
  })
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  process.exit(code)
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  const code = error instanceof ContainerError ? error.exitCode : 125
  // as a client, errors are the docker CLI's own words, uncoloured
  if (clientCall(process.argv.slice(2), process.env)) console.error((error as Error).message)
  else console.error(chalk.red(`minidocker: ${error instanceof Error ? error.message : String(error)}`))
  return exit(code)
})
