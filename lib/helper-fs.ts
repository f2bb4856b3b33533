/**
 * File-system steps that run through the native helper, so they happen in the container's
 * mount namespace (the helper's view, not Node's): given to chapter 03 and the chapters after it.
 */
import { SyscallError, type Helper } from '../native/helper.ts'

/**
 * `mkdir -p` through the helper, so it happens in the container's mount namespace. Each mkdir
 * names the whole path and follows the symlinks on it: for trees no one else writes meanwhile
 * (a container's mount points, which its own processes can swap, are chapter 03's makeMountPoint).
 */
export async function mkdirAll(helper: Helper, path: string): Promise<void> {
  let current = ''
  for (const part of path.split('/').filter(Boolean)) {
    current += `/${part}`
    await helper.mkdir(current).catch((error: unknown) => {
      if (!(error instanceof SyscallError && error.code === 'EEXIST')) throw error
    })
  }
}
