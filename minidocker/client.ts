/**
 * `minidocker` as a client of a daemon (chapter 12): the global -H/--host, which commands go
 * to a daemon, each command's flags and usage as the docker CLI spells them, the create body
 * `run`'s flags make, and the tables and lines the CLI prints. The requests themselves, the
 * streams, the terminal and the errors are the chapter's (#ch/12-client).
 */
import { AttachError, DEFAULT_SOCKET, pullQuery, type RunPlan, type Stdio } from '../lib/client.ts'
import { ago, goQuote, imageSize, shortCommand, table } from '../lib/cli-format.ts'
import { ContainerError } from '../lib/errors.ts'
import { Engine } from '../lib/engine-client.ts'
import { runContainer } from '#ch/12-client/run.ts'
import { pullImage } from '../lib/create-or-pull.ts'
import { exec, logs } from '../lib/logs-exec.ts'
import { runError } from '../lib/run-error.ts'
import { parseSize } from './sizes.ts'
import { progressRenderer } from './pull.ts'

/** Commands that exist only against a daemon: they use DEFAULT_SOCKET when no host is named. */
export const DAEMON_COMMANDS = ['ps', 'logs', 'exec', 'stop', 'kill', 'rm', 'version']

/** Commands minidocker also runs by itself (chapters 01–07): they go to a daemon only when one is named. */
export const CLIENT_COMMANDS = ['run', 'pull', 'images', 'rmi', 'inspect', ...DAEMON_COMMANDS]

export const CLIENT_USAGE = `with a daemon (minidocker -H unix:///PATH COMMAND, or MINIDOCKER_HOST / DOCKER_HOST set):
  run, pull, images, rmi, inspect go to the daemon instead of running here;
  ps, logs, exec, stop, kill, rm, version exist only against a daemon and use
  unix://${DEFAULT_SOCKET} when none is named`

/**
 * The daemon `argv` names: a leading -H/--host (docker's global flag), else MINIDOCKER_HOST,
 * else DOCKER_HOST. Returns the host (undefined: none named) and the arguments after the flag.
 */
export function daemonHost(argv: string[], env: NodeJS.ProcessEnv): { host?: string; args: string[] } {
  const [first, second] = argv
  // a -H without a value is an empty host, which the client refuses by name
  if (first === '-H' || first === '--host') return { host: second ?? '', args: argv.slice(2) }
  if (first?.startsWith('--host=') || first?.startsWith('-H=')) return { host: first.slice(first.indexOf('=') + 1), args: argv.slice(1) }
  return { host: env.MINIDOCKER_HOST || env.DOCKER_HOST || undefined, args: argv }
}

/** The command `argv` asks of a daemon, if it does: a client command with a host named, or a daemon-only command. */
export function clientCall(argv: string[], env: NodeJS.ProcessEnv): { host?: string; command: string; args: string[] } | undefined {
  const { host, args: [command, ...args] } = daemonHost(argv, env)
  if (command === undefined) return undefined
  return (host !== undefined && CLIENT_COMMANDS.includes(command)) || DAEMON_COMMANDS.includes(command) ? { host, command, args } : undefined
}

const USAGES: Record<string, string> = {
  run: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', ps: 'ps [OPTIONS]', images: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  pull: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', logs: 'logs [OPTIONS] CONTAINER', exec: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  stop: 'stop [OPTIONS] CONTAINER [CONTAINER...]', kill: 'kill [OPTIONS] CONTAINER [CONTAINER...]', rm: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  rmi: 'rmi [OPTIONS] IMAGE [IMAGE...]', inspect: 'inspect [OPTIONS] NAME|ID [NAME|ID...]', version: 'version [OPTIONS]',
}

/** A usage error in the CLI's words, exit 125 as cobra's flag errors. */
const usageError = (command: string, message: string) =>
  new ContainerError(`${message}\n\nUsage:  minidocker ${USAGES[command]}\n\nRun 'minidocker ${command} --help' for more information`, 125)

/** Flags as pflag reads them: `--name value`, `--name=value`, bundled short booleans (`-it`); the first other word ends them. */
interface FlagSpec {
  values?: Record<string, string>
  bools?: Record<string, string>
  /** flags after the operands are flags too (docker stop a -t 1); run and exec stop at the first operand */
  interspersed?: boolean
}

function parseFlags(command: string, args: string[], spec: FlagSpec): { values: Record<string, string[]>; bools: Record<string, boolean>; operands: string[] } {
  const values: Record<string, string[]> = {}
  const bools: Record<string, boolean> = {}
  const operands: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') { operands.push(...args.slice(i + 1)); break }
    if (!arg.startsWith('-') || arg === '-') {
      if (!spec.interspersed) { operands.push(...args.slice(i)); break }
      operands.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined
    if (spec.values?.[name]) {
      const value = inline ?? args[++i]
      if (value === undefined) throw usageError(command, `flag needs an argument: ${name}`)
      ;(values[spec.values[name]] ??= []).push(value)
    } else if (spec.bools?.[name]) bools[spec.bools[name]] = inline === undefined ? true : inline === 'true'
    else if (!arg.startsWith('--') && [...arg.slice(1)].every((c) => spec.bools?.[`-${c}`])) for (const c of arg.slice(1)) bools[spec.bools![`-${c}`]!] = true
    else throw usageError(command, `unknown flag: ${name.startsWith('--') ? name : `-${arg[1]}`}`)
  }
  return { values, bools, operands }
}

const RUN_FLAGS: FlagSpec = {
  values: {
    '-e': 'env', '--env': 'env', '-w': 'workdir', '--workdir': 'workdir', '-u': 'user', '--user': 'user', '-h': 'hostname', '--hostname': 'hostname',
    '--entrypoint': 'entrypoint', '-v': 'volume', '--volume': 'volume', '-m': 'memory', '--memory': 'memory', '--cpus': 'cpus',
    '--pids-limit': 'pids', '-p': 'publish', '--publish': 'publish', '--network': 'network', '--net': 'network', '--name': 'name',
    '--detach-keys': 'detachKeys',
  },
  bools: { '-d': 'detach', '--detach': 'detach', '-i': 'interactive', '--interactive': 'interactive', '-t': 'tty', '--tty': 'tty', '--rm': 'rm', '--init': 'init', '--sig-proxy': 'sigProxy' },
}

/** `run`'s flags as the create body docker run sends (API 1.41 field names). */
export function runPlan(args: string[], env: NodeJS.ProcessEnv = process.env): RunPlan {
  const { values, bools, operands } = parseFlags('run', args, RUN_FLAGS)
  const [image, ...command] = operands
  if (image === undefined) throw usageError('run', "'minidocker run' requires at least 1 argument")
  const last = (key: string) => values[key]?.at(-1)
  const detach = bools.detach === true
  const interactive = bools.interactive === true
  const tty = bools.tty === true
  // -e NAME without a value takes NAME from the client's environment, as the CLI does
  const envList = (values.env ?? []).flatMap((e) => (e.includes('=') ? [e] : env[e] === undefined ? [] : [`${e}=${env[e]}`]))
  const exposed: Record<string, object> = {}
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {}
  for (const p of values.publish ?? []) {
    const match = /^(?:([\d.]+):)?(\d*):(\d+)(?:\/(tcp|udp))?$/.exec(p)
    if (!match) throw runError(new Error(`invalid published port "${p}"`))
    const key = `${match[3]}/${match[4] ?? 'tcp'}`
    exposed[key] = {}
    ;(bindings[key] ??= []).push({ HostIp: match[1] ?? '', HostPort: match[2]! })
  }
  const entrypoint = last('entrypoint')
  const cpus = last('cpus')
  const pids = last('pids')
  const memory = last('memory')
  const config = {
    Hostname: last('hostname') ?? '', Domainname: '', User: last('user') ?? '',
    AttachStdin: interactive, AttachStdout: !detach, AttachStderr: !detach,
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Tty: tty, OpenStdin: interactive, StdinOnce: interactive && !detach,
    Env: envList.length ? envList : null, Cmd: command.length ? command : null, Image: image,
    Volumes: null, WorkingDir: last('workdir') ?? '', Entrypoint: entrypoint === undefined ? null : entrypoint === '' ? [''] : [entrypoint],
    OnBuild: null, Labels: {},
    HostConfig: {
      Binds: values.volume ?? null, NetworkMode: last('network') ?? 'default', PortBindings: bindings,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: bools.rm === true, LogConfig: { Type: '', Config: {} },
      Memory: memory === undefined ? 0 : parseSize(memory), NanoCpus: cpus === undefined ? 0 : Math.round(Number(cpus) * 1e9),
      PidsLimit: pids === undefined ? null : Number(pids), Init: bools.init ? true : null, ConsoleSize: [0, 0],
    },
    NetworkingConfig: { EndpointsConfig: {} },
  }
  return { image, name: last('name'), config, detach, interactive, tty, autoRemove: bools.rm === true, sigProxy: bools.sigProxy !== false, detachKeys: last('detachKeys') }
}

interface ContainerSummary { Id: string; Names: string[]; Image: string; Command: string; Created: number; Status: string }
interface ImageSummary { Id: string; RepoTags: string[] | null; Created: number; Size: number }

const STDIO: Stdio = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }

/** `docker ps`'s table, or IDs alone with -q. */
async function ps(engine: Engine, args: string[]): Promise<number> {
  const { bools } = parseFlags('ps', args, { bools: { '-a': 'all', '--all': 'all', '-q': 'quiet', '--quiet': 'quiet', '--no-trunc': 'noTrunc' }, interspersed: true })
  const list = await engine.json<ContainerSummary[]>('GET', '/containers/json', { query: { all: bools.all ? '1' : undefined } })
  const id = (c: ContainerSummary) => (bools.noTrunc ? c.Id : c.Id.slice(0, 12))
  if (bools.quiet) {
    for (const c of list) process.stdout.write(`${id(c)}\n`)
    return 0
  }
  process.stdout.write(table([
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'],
    ...list.map((c) => [id(c), c.Image, bools.noTrunc ? goQuote(c.Command) : shortCommand(c.Command), ago(c.Created), c.Status, '', c.Names.map((n) => n.replace(/^\//, '')).join(',')]),
  ]))
  return 0
}

/** `docker images`: a row per tag, `<none>` for an untagged image. */
async function images(engine: Engine, args: string[]): Promise<number> {
  const { bools } = parseFlags('images', args, { bools: { '-q': 'quiet', '--quiet': 'quiet' }, interspersed: true })
  const list = await engine.json<ImageSummary[]>('GET', '/images/json')
  const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12)
  if (bools.quiet) {
    for (const i of list) process.stdout.write(`${short(i.Id)}\n`)
    return 0
  }
  const rows = list.flatMap((i) => (i.RepoTags?.length ? i.RepoTags : ['<none>:<none>']).map((tag) => {
    const colon = tag.lastIndexOf(':')
    return [tag.slice(0, colon), tag.slice(colon + 1), short(i.Id), ago(i.Created), imageSize(i.Size)]
  }))
  process.stdout.write(table([['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows]))
  return 0
}

/** `docker pull`: the progress on stdout, then the full name. */
async function pull(engine: Engine, args: string[]): Promise<number> {
  const { bools, operands } = parseFlags('pull', args, { bools: { '-q': 'quiet', '--quiet': 'quiet' }, interspersed: true })
  const [image] = operands
  if (image === undefined || operands.length > 1) throw usageError('pull', `'minidocker pull' requires 1 argument`)
  const { familiar } = pullQuery(image)
  if (!/[:@]/.test(image.slice(image.lastIndexOf('/') + 1)) && !bools.quiet) process.stdout.write('Using default tag: latest\n')
  await pullImage(engine, image, bools.quiet ? () => {} : progressRenderer(process.stdout, process.stdout.isTTY === true))
  process.stdout.write(`${familiar}\n`)
  return 0
}

/**
 * stop, kill, rm and rmi act on each operand in turn, as the CLI does: a success prints the
 * name (rmi: what was untagged and deleted), a failure its error on stderr; exit 1 if any failed.
 */
async function eachOperand(command: string, operands: string[], act: (ref: string) => Promise<string>): Promise<number> {
  if (operands.length === 0) throw usageError(command, `'minidocker ${command}' requires at least 1 argument`)
  let failed = false
  for (const ref of operands) {
    try {
      process.stdout.write(await act(ref))
    } catch (error) {
      if (!(error instanceof ContainerError)) throw error
      process.stderr.write(`${error.message}\n`)
      failed = true
    }
  }
  return failed ? 1 : 0
}

async function inspect(engine: Engine, args: string[]): Promise<number> {
  const { operands } = parseFlags('inspect', args, { interspersed: true })
  const found: unknown[] = []
  const missing: string[] = []
  for (const ref of operands) {
    const object = await engine.json('GET', `/containers/${ref}/json`).catch(() => engine.json('GET', `/images/${ref}/json`).catch(() => undefined))
    if (object === undefined) missing.push(ref)
    else found.push(object)
  }
  process.stdout.write(`${JSON.stringify(found, null, 4)}\n`)
  for (const ref of missing) process.stderr.write(`Error: No such object: ${ref}\n`)
  return missing.length ? 1 : 0
}

async function version(engine: Engine): Promise<number> {
  const v = await engine.json<{ Version: string; ApiVersion: string; MinAPIVersion: string; GitCommit: string; GoVersion: string; Os: string; Arch: string }>('GET', '/version')
  process.stdout.write(`Client:
 Version:           minidocker
 API version:       ${engine.version}
 OS/Arch:           linux/${process.arch === 'x64' ? 'amd64' : process.arch}

Server:
 Engine:
  Version:          ${v.Version}
  API version:      ${v.ApiVersion} (minimum version ${v.MinAPIVersion})
  Go version:       ${v.GoVersion}
  Git commit:       ${v.GitCommit}
  OS/Arch:          ${v.Os}/${v.Arch}
`)
  return 0
}

/** One command against the daemon at `host` (DEFAULT_SOCKET when undefined). */
export async function clientCommand(host: string | undefined, command: string, args: string[]): Promise<number> {
  if (command === 'run') {
    const plan = runPlan(args)
    let engine: Engine | undefined
    try {
      engine = await Engine.connect(host ?? `unix://${DEFAULT_SOCKET}`)
      return await runContainer(engine, plan, STDIO, progressRenderer(process.stderr, process.stderr.isTTY === true))
    } catch (error) {
      throw error instanceof AttachError ? error : runError(error)
    } finally {
      engine?.close()
    }
  }
  const engine = await Engine.connect(host ?? `unix://${DEFAULT_SOCKET}`)
  try {
    switch (command) {
      case 'ps': return await ps(engine, args)
      case 'images': return await images(engine, args)
      case 'pull': return await pull(engine, args)
      case 'version': return await version(engine)
      case 'inspect': return await inspect(engine, args)
      case 'logs': {
        const { values, bools, operands } = parseFlags('logs', args, { values: { '--tail': 'tail', '-n': 'tail' }, bools: { '-f': 'follow', '--follow': 'follow' }, interspersed: true })
        if (operands.length !== 1) throw usageError('logs', `'minidocker logs' requires exactly 1 argument`)
        return await logs(engine, operands[0]!, { follow: bools.follow === true, tail: values.tail?.at(-1) }, STDIO)
      }
      case 'exec': {
        const { bools, operands } = parseFlags('exec', args, { bools: { '-i': 'interactive', '--interactive': 'interactive', '-t': 'tty', '--tty': 'tty' } })
        const [ref, ...cmd] = operands
        if (ref === undefined || cmd.length === 0) throw usageError('exec', `'minidocker exec' requires at least 2 arguments`)
        return await exec(engine, ref, cmd, { interactive: bools.interactive === true, tty: bools.tty === true }, STDIO)
      }
      case 'stop': {
        const { values, operands } = parseFlags('stop', args, { values: { '-t': 'time', '--time': 'time' }, interspersed: true })
        return await eachOperand('stop', operands, async (ref) => (await engine.json('POST', `/containers/${ref}/stop`, { query: { t: values.time?.at(-1) } }), `${ref}\n`))
      }
      case 'kill': {
        const { values, operands } = parseFlags('kill', args, { values: { '-s': 'signal', '--signal': 'signal' }, interspersed: true })
        return await eachOperand('kill', operands, async (ref) => (await engine.json('POST', `/containers/${ref}/kill`, { query: { signal: values.signal?.at(-1) } }), `${ref}\n`))
      }
      case 'rm': {
        const { bools, operands } = parseFlags('rm', args, { bools: { '-f': 'force', '--force': 'force' }, interspersed: true })
        return await eachOperand('rm', operands, async (ref) => (await engine.json('DELETE', `/containers/${ref}`, { query: { force: bools.force ? '1' : undefined } }), `${ref}\n`))
      }
      case 'rmi': {
        const { bools, operands } = parseFlags('rmi', args, { bools: { '-f': 'force', '--force': 'force' }, interspersed: true })
        return await eachOperand('rmi', operands, async (ref) => {
          const deleted = await engine.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${ref}`, { query: { force: bools.force ? '1' : undefined } })
          return deleted.map((d) => (d.Untagged ? `Untagged: ${d.Untagged}\n` : `Deleted: ${d.Deleted}\n`)).join('')
        })
      }
      default:
        throw new ContainerError(`unknown command "${command}"`, 125)
    }
  } finally {
    engine.close()
  }
}
