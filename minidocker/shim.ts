/**
 * containerd-shim-minidocker-v2's entry (bin/containerd-shim-minidocker-v2.cjs): chapter 10's
 * shim, as containerd runs it for `--runtime io.containerd.minidocker.v2`.
 */
import { deleteShim, parseFlags, serve, startShim } from '../lib/shim-command.ts'

const USAGE = `usage: containerd-shim-minidocker-v2 -namespace NS -address SOCK -publish-binary BIN -id ID [-bundle DIR] start|delete
containerd runs it for \`--runtime io.containerd.minidocker.v2\` when it is on containerd's PATH.
MINIDOCKER_SHIM_RUNTIME names the OCI runtime it starts (default: minirunc).`

/** The command: containerd-shim-minidocker-v2 FLAGS start|delete|serve. */
async function main(argv: string[], script: string): Promise<void> {
  const flags = parseFlags(argv)
  if (flags.action === 'start') {
    process.stdout.write(await startShim(flags, argv, script))
    process.exit(0)
  } else if (flags.action === 'delete') {
    process.stdout.write(await deleteShim(flags))
    process.exit(0)
  } else if (flags.action === 'serve') await serve(flags)
  else throw new Error(`expected start, delete or serve, not "${flags.action}"`)
}

if (process.argv.includes('--help') || process.argv.includes('-h')) console.log(USAGE)
else main(process.argv.slice(2), process.argv[1]!).catch((error: Error) => {
  console.error(`containerd-shim-minidocker-v2: ${error.message}`)
  process.exit(1)
})
