/**
 * Kernel tests need root on Linux. Without it they skip with one line pointing at vm/,
 * except under CI=true, where a skip would hide a broken machine: there they fail.
 */
import { describe, it } from 'vitest'

function missing(): string | null {
  if (process.platform !== 'linux') return `this is ${process.platform}, not Linux`
  if (process.getuid?.() !== 0) return 'they need root'
  return null
}

let warned = false

/** describe() for tests that touch the kernel: namespaces, mounts, cgroups, devices. */
export function describeKernel(name: string, body: () => void): void {
  const reason = missing()
  if (reason === null) {
    describe(name, body)
    return
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('runs on this machine', () => {
        throw new Error(`kernel tests cannot run on CI: ${reason}. CI must run as root on Linux.`)
      })
    })
    return
  }
  if (!warned) {
    console.warn(`kernel tests skipped: ${reason}. Run them as root on Linux, or in the VM (see vm/README.md).`)
    warned = true
  }
  describe.skip(name, body)
}
