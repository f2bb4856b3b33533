/**
 * `minidocker pull`: chapter 07's pull, with its progress drawn the way the docker CLI draws
 * dockerd's JSON messages (moby's pkg/jsonmessage): one line per layer, rewritten in place
 * with ANSI cursor movement on a terminal; on a pipe or a file, one plain line per status,
 * without the bars.
 */
import type { Platform } from '../lib/platform.ts'
import type { JSONMessage } from '../lib/jsonmessage.ts'
import { ContainerError } from '../lib/errors.ts'
import { required } from './layers.ts'

export const PULL_USAGE = `usage: minidocker pull [--platform OS/ARCH[/VARIANT]] [-q] NAME[:TAG|@DIGEST]`

const ESC = '\x1b['

/** The text of one message: "<id>: <status> <bar>". */
function lineOf(message: JSONMessage, bars: boolean): string {
  const text = message.error ?? message.status ?? ''
  const bar = bars && message.progress ? ` ${message.progress}` : ''
  return `${message.id ? `${message.id}: ` : ''}${text}${bar}`
}

/**
 * Draws progress messages on `out`. On a terminal, a message with progressDetail belongs to
 * its id's line: a new id gets a new line below the others, a known one is rewritten in place
 * (cursor up to it, clear it, write, cursor back down). Any other message is printed as a
 * line of its own and ends the block, as docker's client does.
 */
export function progressRenderer(out: { write(text: string): unknown }, terminal: boolean): (message: JSONMessage) => void {
  let lines = new Map<string, number>()
  return (message) => {
    const layerLine = message.id !== undefined && message.progressDetail !== undefined
    if (!terminal) {
      // a pipe gets every status once, no bars (nothing can be redrawn there)
      if (!message.progress) out.write(`${lineOf(message, false)}\n`)
      return
    }
    if (!layerLine) {
      lines = new Map()
      out.write(`${lineOf(message, true)}\n`)
      return
    }
    const line = lines.get(message.id!)
    if (line === undefined) {
      lines.set(message.id!, lines.size)
      out.write(`${lineOf(message, true)}\n`)
      return
    }
    const up = lines.size - line
    out.write(`${ESC}${up}A\r${ESC}2K${lineOf(message, true)}${ESC}${up}B\r`)
  }
}

export interface PullFlags {
  /** "os/arch[/variant]", parsed by chapter 07 */
  platform?: string
  quiet: boolean
  reference: string
}

export function parsePull(args: string[]): PullFlags {
  const flags: Partial<PullFlags> & { quiet: boolean } = { quiet: false }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '-q' || arg === '--quiet') flags.quiet = true
    else if (arg === '--platform' || arg.startsWith('--platform=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i]
      if (!value) throw new ContainerError('flag needs an argument: --platform', 125)
      flags.platform = value
    } else if (arg.startsWith('-')) throw new ContainerError(`unknown flag: ${arg}\n\n${PULL_USAGE}`, 125)
    else if (flags.reference === undefined) flags.reference = arg
    else throw new ContainerError(`"pull" takes one image, got "${flags.reference}" and "${arg}"\n\n${PULL_USAGE}`, 125)
  }
  if (flags.reference === undefined) throw new ContainerError(`"pull" requires an image\n\n${PULL_USAGE}`, 125)
  return flags as PullFlags
}

/**
 * `minidocker pull`: pull into the store (MINIDOCKER_ROOT), draw the progress, print the full
 * name. The chapters are loaded only when a pull runs, so other commands never need them.
 */
export async function pull(args: string[]): Promise<number> {
  const flags = parsePull(args)
  const { DEFAULT_ROOT } = await import('#ch/06-images/store.ts')
  const { parsePlatform } = await import('../lib/platform.ts')
  const { pullImage } = await import('#ch/07-registry/pull.ts')
  const { parseReference, referenceString } = await import('../lib/reference.ts')
  const platform: Platform | undefined = flags.platform === undefined ? undefined : parsePlatform(flags.platform)
  const progress = flags.quiet ? undefined : progressRenderer(process.stdout, process.stdout.isTTY === true)
  const result = await required(() => pullImage(flags.reference, { root: DEFAULT_ROOT, platform, progress }), 'pull')
  console.log(referenceString(parseReference(result.name)))
  return 0
}
