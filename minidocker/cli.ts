/**
 * The learner's container tool. Run it as `npx minidocker ...`; `--reference` runs the
 * reference solutions instead of chapters/ (see workbook/conditions.mjs).
 */
import chalk from 'chalk'
import { buildEnv } from '#ch/01-process/process.ts'
import { ContainerError } from '../lib/errors.ts'
import { baseSpec } from '../lib/oci.ts'
import { runContainer } from './container.ts'
import { required } from './layers.ts'

const USAGE = `usage: minidocker [--reference] COMMAND

commands:
  run [OPTIONS] [--] COMMAND [ARG...]   run a command in a new container

run options:
  -e, --env KEY[=VALUE]    set an environment variable (repeatable)
  -w, --workdir DIR        working directory inside the container`

/** Options for `run`, as docker parses them: flags first, then the command, untouched. */
export interface RunOptions {
  env: string[]
  workdir?: string
  command: string[]
}

const VALUE_FLAGS: Record<string, keyof RunOptions> = {
  '-e': 'env', '--env': 'env', '-w': 'workdir', '--workdir': 'workdir',
}

export function parseRun(args: string[]): RunOptions {
  const options: RunOptions = { env: [], command: [] }
  let i = 0
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') { i++; break }
    if (!arg.startsWith('-')) break
    const [flag, inline] = arg.includes('=') && arg.startsWith('--') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const key = VALUE_FLAGS[flag]
    if (!key) throw new ContainerError(`unknown flag: ${flag}\n\n${USAGE}`, 125)
    const value = inline ?? args[++i]
    if (value === undefined) throw new ContainerError(`flag needs an argument: ${flag}`, 125)
    if (key === 'env') options.env.push(value)
    else if (key === 'workdir') options.workdir = value
  }
  options.command = args.slice(i)
  if (options.command.length === 0) throw new ContainerError(`"run" requires a command to run\n\n${USAGE}`, 125)
  return options
}

async function run(args: string[]): Promise<number> {
  const options = parseRun(args)
  const env = await required(() => buildEnv(options.env, process.env), 'run -e')
  const spec = baseSpec(options.command, env)
  if (options.workdir) spec.process.cwd = options.workdir
  return runContainer(spec, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' })
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'run':
      return run(rest)
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = error instanceof ContainerError ? error.exitCode : 125
    console.error(chalk.red(`minidocker: ${error instanceof Error ? error.message : String(error)}`))
    process.exit(code)
  },
)
