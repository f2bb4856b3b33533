/**
 * Running the host's network tools (ip, iptables, nsenter) from chapter 08. Which command to run,
 * in which namespace and in which order is the chapter's; this only runs one and, when it fails,
 * says which command it was and what the tool printed, in one line.
 */
import { execa } from 'execa'
import { ContainerError } from './errors.ts'

/**
 * Run `argv` (with `input` on its stdin) and return its stdout; a failure throws a ContainerError
 * (125) naming the command and the tool's stderr.
 */
export async function command(argv: string[], input?: string): Promise<string> {
  const [file, ...args] = argv
  const result = await execa(file!, args, input === undefined ? { reject: false, stdin: 'ignore' } : { reject: false, input })
  if (result.failed) {
    const why = String(result.stderr || result.stdout || result.shortMessage).trim().replace(/\s*\n\s*/g, '; ')
    throw new ContainerError(`${argv.join(' ')}: ${why}`, 125)
  }
  return result.stdout
}
