/**
 * Chapter 05's given marks of overlayfs, which chapter 05's changes() and diffTar() read and
 * chapter 06's unpacking writes. What each mark is, and how to tell it from a file a container
 * made, is the kernel's Documentation/filesystems/overlayfs.rst, "whiteouts and opaque
 * directories". Node can make neither mark, so the helper does both.
 */
import { SyscallError, type Helper } from '../native/helper.ts'

/** overlayfs's opaque mark */
const OPAQUE_XATTR = 'trusted.overlay.opaque'

/** Hide `path` of the lower layers: make at `path`, in the upper layer, the mark overlayfs leaves for a deleted name. */
export async function makeWhiteout(helper: Helper, path: string): Promise<void> {
  await helper.mknod(path, 'c', 0, 0, 0)
}

/** Hide everything the lower layers hold under directory `dir` (in the upper layer), and nothing else. */
export async function makeOpaque(helper: Helper, dir: string): Promise<void> {
  await helper.setxattr(dir, OPAQUE_XATTR, 'y')
}

/**
 * Does directory `dir` carry overlayfs's opaque mark? Only "y" is opaque (since Linux 6.7, "x"
 * marks a directory that holds whiteouts of another kind, and hides nothing). A directory without
 * the attribute is not opaque; any other failure (a path that is gone: ENOENT) is thrown.
 */
export async function isOpaque(helper: Helper, dir: string): Promise<boolean> {
  try {
    return (await helper.getxattr(dir, OPAQUE_XATTR)) === 'y'
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ENODATA') return false
    throw error
  }
}
