/**
 * containerd-shim-minidocker-v2's entry (bin/containerd-shim-minidocker-v2.cjs): chapter 10's
 * shim, as containerd runs it for `--runtime io.containerd.minidocker.v2`.
 */
import { main } from '#ch/10-shim/shim.ts'

main(process.argv.slice(2), process.argv[1]!).catch((error: Error) => {
  console.error(`containerd-shim-minidocker-v2: ${error.message}`)
  process.exit(1)
})
