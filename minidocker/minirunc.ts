/**
 * minirunc: chapter 09's OCI runtime behind runc's command line, so that containerd's shim and
 * dockerd can run it in place of runc. This file only parses arguments (as runc's urfave/cli
 * does: `--flag value`, `--flag=value`, one dash or two) and reports errors as runc does: the
 * message on stderr and, with --log, as a JSON line `{"level":"error","msg":...,"time":...}`,
 * which the shim reads back; exit status 1.
 */
import { writeSync } from 'node:fs'
import { resolve } from 'node:path'
import { updateCgroup } from '#ch/04-cgroups/cgroups.ts'
import { create, deleteContainer, execProcess, start } from '#ch/09-runtime/runtime.ts'
import { kill, parseSignal, pause, run } from '../lib/runtime-commands.ts'
import { cgroupPids, containerStatus, loadContainer, publicState } from '../lib/runtime-state.ts'
import { readdirSync, readFileSync } from 'node:fs'
import { DEFAULT_PATH, type Resources, type Spec } from '../lib/oci.ts'
import { RuntimeError, RuntimeLog } from '../lib/runtime.ts'
import { sendNotesTo } from './layers.ts'
import { parseSize } from './sizes.ts'

const VERSION = 'minirunc version 0.1.0\nspec: 1.0.2\n'
const DEFAULT_ROOT = '/run/minirunc'

const USAGE = `usage: minirunc [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID

commands (runc's):
  create --bundle DIR [--pid-file F] ID   set the container up; it waits for start
  start ID                                 let it run its program
  run --bundle DIR [--pid-file F] ID       create, start, wait, delete
  (create, run, exec: --console-socket S for process.terminal)
  state ID                                 print its state as JSON
  kill [--all] ID [SIGNAL]                 send a signal (default SIGTERM)
  delete [--force] ID                      remove a stopped container
  pause ID / resume ID                     freeze and thaw every process in it
  list [--format table|json]               every container under --root
  ps [--format table|json] ID              the host PIDs in the container
  exec [--detach] [--pid-file F] (--process FILE | [--cwd D] [--env K=V] ID COMMAND...)
                                           run another process in a running container
  update (--resources FILE | [--memory M] [--memory-swap M] [--cpu-period P] [--cpu-quota Q]
         [--cpu-share S] [--pids-limit N]) ID
                                           change a container's cgroup limits (FILE - is stdin)
`

/** Flags that take a value, per command (runc's names); every other flag is a switch. */
const VALUED = new Set([
  'root', 'log', 'log-format', 'bundle', 'b', 'pid-file', 'console-socket', 'format', 'f', 'criu', 'rootless', 'process', 'p', 'cwd', 'env', 'e', 'user', 'u',
  'resources', 'r', 'memory', 'memory-swap', 'cpu-period', 'cpu-quota', 'cpu-share', 'pids-limit',
])

interface Parsed {
  flags: Map<string, string | true>
  /** every value of a flag given more than once (exec --env) */
  all: Map<string, string[]>
  args: string[]
}

function parse(argv: string[]): Parsed {
  const flags = new Map<string, string | true>()
  const all = new Map<string, string[]>()
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const m = /^--?([a-z][\w-]*)(?:=(.*))?$/.exec(arg)
    if (!m || args.length > 0) {
      args.push(arg)
      continue
    }
    const [, name, value] = m
    if (value === undefined && !VALUED.has(name!)) {
      flags.set(name!, true)
      continue
    }
    if (value === undefined && i + 1 >= argv.length) throw new RuntimeError(`flag needs an argument: --${name}`)
    const text = value ?? argv[++i]!
    flags.set(name!, text)
    all.set(name!, [...(all.get(name!) ?? []), text])
  }
  return { flags, all, args }
}

async function main(argv: string[]): Promise<number> {
  // Global flags come before the command, the command's own after it.
  const firstCommand = argv.findIndex((a, i) => !a.startsWith('-') && !VALUED.has(argv[i - 1]?.replace(/^--?/, '') ?? ''))
  const global = parse(firstCommand < 0 ? argv : argv.slice(0, firstCommand))
  const [command, ...rest] = firstCommand < 0 ? [] : argv.slice(firstCommand)
  const logFormat = global.flags.get('log-format')
  const log = new RuntimeLog(str(global.flags.get('log')), logFormat === 'json' ? 'json' : 'text')
  sendNotesTo((line) => log.write('warning', line))
  try {
    if (global.flags.has('version') || global.flags.has('v')) return out(VERSION)
    if (global.flags.has('help') || global.flags.has('h') || !command) return out(USAGE)
    if (global.flags.has('systemd-cgroup'))
      throw new RuntimeError('--systemd-cgroup is not supported: minirunc manages cgroups through cgroupfs only')
    const root = resolve(str(global.flags.get('root')) ?? DEFAULT_ROOT)
    const { flags, all, args } = parse(rest)
    const id = () => {
      if (!args[0]) throw new RuntimeError(`"${command}" requires a container ID`)
      return args[0]
    }
    const createOptions = () => ({
      bundle: resolve(str(flags.get('bundle') ?? flags.get('b')) ?? '.'),
      pidFile: str(flags.get('pid-file')) && resolve(str(flags.get('pid-file'))!),
      consoleSocket: str(flags.get('console-socket')),
    })
    switch (command) {
      case 'create':
        await create(root, id(), createOptions(), log)
        return 0
      case 'start':
        await start(root, id(), log)
        return 0
      case 'run':
        return await run(root, id(), createOptions(), log)
      case 'state': {
        const { dir, record } = loadContainer(root, id())
        return out(`${JSON.stringify(publicState(dir, record), null, 2)}\n`)
      }
      case 'kill':
        await kill(root, id(), parseSignal(args[1] ?? 'TERM'), flags.has('all') || flags.has('a'))
        return 0
      case 'delete':
        await deleteContainer(root, id(), flags.has('force') || flags.has('f'), log)
        return 0
      case 'exec': {
        const file = str(flags.get('process') ?? flags.get('p'))
        const process = file
          ? (JSON.parse(readFileSync(file, 'utf8')) as Spec['process'])
          : { args: args.slice(1), env: [DEFAULT_PATH, ...(all.get('env') ?? []), ...(all.get('e') ?? [])], cwd: str(flags.get('cwd')) ?? '/', terminal: flags.has('tty') || flags.has('t') }
        if (!file && process.args.length === 0) throw new RuntimeError('exec needs --process FILE or a command after the ID')
        // containerd leaves env out when the container has none (ctr run without --env).
        process.env ??= []
        return await execProcess(root, id(), {
          process, detach: flags.has('detach') || flags.has('d'),
          pidFile: str(flags.get('pid-file')) && resolve(str(flags.get('pid-file'))!), consoleSocket: str(flags.get('console-socket')),
        })
      }
      case 'pause':
      case 'resume':
        await pause(root, id(), command === 'pause')
        return 0
      case 'update': {
        const { dir, record } = loadContainer(root, id())
        if (containerStatus(dir, record) === 'stopped') throw new RuntimeError('container not running')
        if (!record.cgroup) throw new RuntimeError(`container ${id()} has no cgroup to update`)
        await updateCgroup(record.cgroup, updateResources(flags))
        return 0
      }
      case 'list':
        return out(list(root, flags.get('format') ?? flags.get('f')))
      case 'ps': {
        const { record } = loadContainer(root, id())
        const pids = cgroupPids(record)
        return out(flags.get('format') === 'json' ? `${JSON.stringify(pids)}\n` : `PID\n${pids.join('\n')}\n`)
      }
      default:
        throw new RuntimeError(`command "${command}" is not supported by minirunc`)
    }
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error)
    log.write('error', msg)
    if (log.file) process.stderr.write(`minirunc: ${msg}\n`)
    return 1
  }
}

/**
 * `update`'s new limits, as runc's update.go reads them: linux.resources as JSON from --resources
 * (`-` is stdin, and then every other flag is ignored), or the flags, memory sizes as `docker run
 * --memory` reads them (`64m`) and -1 for no limit.
 */
function updateResources(flags: Map<string, string | true>): Resources {
  const file = str(flags.get('resources') ?? flags.get('r'))
  if (file) return JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as Resources
  const number = (name: string, parse: (text: string) => number) => {
    const text = str(flags.get(name))
    if (text === undefined) return undefined
    const value = parse(text)
    if (!Number.isSafeInteger(value)) throw new RuntimeError(`invalid value for ${name}: ${text}`)
    return value
  }
  const bytes = (text: string) => {
    if (text === '-1') return -1
    try {
      return parseSize(text)
    } catch {
      return NaN
    }
  }
  const integer = (text: string) => (/^-?\d+$/.test(text) ? Number(text) : NaN)
  const pids = number('pids-limit', integer)
  return {
    memory: { limit: number('memory', bytes), swap: number('memory-swap', bytes) },
    cpu: { period: number('cpu-period', integer), quota: number('cpu-quota', integer), shares: number('cpu-share', integer) },
    ...(pids === undefined ? {} : { pids: { limit: pids } }),
  }
}

/** `list`: runc's table, or its JSON array of states. */
function list(root: string, format: string | true | undefined): string {
  let ids: string[] = []
  try {
    ids = readdirSync(root)
  } catch {
    // no root yet: no containers
  }
  const states = ids.flatMap((id) => {
    try {
      const { dir, record } = loadContainer(root, id)
      return [publicState(dir, record)]
    } catch {
      return []
    }
  })
  if (format === 'json') return `${JSON.stringify(states)}\n`
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner])]
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]! + 3)).join('').trimEnd()).join('\n') + '\n'
}

const str = (v: string | true | undefined) => (typeof v === 'string' ? v : undefined)

function out(text: string): number {
  writeSync(1, text)
  return 0
}

// Node exits once nothing keeps its loop alive, and a pending request to a helper need not:
// hold the process until the command has finished.
const alive = setInterval(() => {}, 1 << 30)
main(process.argv.slice(2)).then((code) => {
  clearInterval(alive)
  process.exit(code)
})
