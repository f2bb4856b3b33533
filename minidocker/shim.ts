/**
 * containerd-shim-minidocker-v2's entry (bin/containerd-shim-minidocker-v2.cjs): chapter 10's
 * shim, as containerd runs it for `--runtime io.containerd.minidocker.v2`.
 */
import { main } from '#ch/10-shim/shim.ts'

const USAGE = `usage: containerd-shim-minidocker-v2 -namespace NS -address SOCK -publish-binary BIN -id ID [-bundle DIR] start|delete
containerd runs it for \`--runtime io.containerd.minidocker.v2\` when it is on containerd's PATH.
MINIDOCKER_SHIM_RUNTIME names the OCI runtime it starts (default: minirunc).`

if (process.argv.includes('--help') || process.argv.includes('-h')) console.log(USAGE)
else main(process.argv.slice(2), process.argv[1]!).catch((error: Error) => {
  console.error(`containerd-shim-minidocker-v2: ${error.message}`)
  process.exit(1)
})
