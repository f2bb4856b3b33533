/**
 * `minidocker run IMAGE`: from the IMAGE argument to a root filesystem directory on the host.
 *
 * IMAGE is, in the order tried:
 *   1. a directory: used as it is (changes made in the container stay in it);
 *   2. a rootfs tarball: unpacked into a temp dir that is removed after the container;
 *   3. an image in the store (chapter 06), its layers mounted with the container's own
 *      (chapter 05): see storedRootfs() in images.ts;
 *   4. a built-in image name (`probe`, `busybox`): its tarball is built once from the
 *      machine's own files, cached as $MINIDOCKER_ROOT/builtin/NAME.tar (default
 *      /var/lib/minidocker), and unpacked like any other tarball.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ContainerError } from '../lib/errors.ts'
import { DEFAULT_ROOT } from '../lib/image.ts'
import { mountsBelow } from '../lib/mounts.ts'
import { PROBE_PATH } from '../native/helper.ts'
import { BUILTIN_IMAGES, buildRootfsTarball, HOST_BUSYBOX, isBuiltinImage, unpackTarball, type BuiltinImage } from './builtin.ts'
import type { ImageConfig } from '../lib/image.ts'
import { storedRootfs } from './images.ts'
import { optional } from './layers.ts'

/** A root filesystem to run a container in, and what to do once the container is gone. */
export interface ImageRootfs {
  /** absolute path of the directory that becomes the container's / */
  rootfs: string
  release(): Promise<void>
  /** the image config, for an image from the store: its Env, Cmd, Entrypoint, WorkingDir, User */
  config?: ImageConfig
}

/** Find IMAGE (see the top of this file) and give its root filesystem on the host. */
export async function imageRootfs(image: string): Promise<ImageRootfs> {
  const path = resolve(image)
  const stat = statSync(path, { throwIfNoEntry: false })
  if (stat?.isDirectory()) return { rootfs: path, release: async () => {} }
  if (stat?.isFile()) return unpacked(path)
  const stored = await optional('06-images', () => storedRootfs(image), 'not looking in the image store')
  if (stored) return stored
  if (isBuiltinImage(image)) return unpacked(builtinTarball(image))
  throw new ContainerError(
    `image "${image}" not found: give a rootfs directory, a rootfs tarball, an image in the store (minidocker images), or one of: ${BUILTIN_IMAGES.join(', ')}`,
    125,
  )
}

/** A fresh copy of a tarball's files, so the container's writes never reach the image. */
function unpacked(tarball: string): ImageRootfs {
  const rootfs = mkdtempSync(join(tmpdir(), 'minidocker-rootfs-'))
  try {
    unpackTarball(tarball, rootfs)
  } catch (error) {
    rmSync(rootfs, { recursive: true, force: true })
    throw error
  }
  return {
    rootfs,
    async release() {
      // A container mount that leaked onto the host (a -v volume, say) would let rm reach
      // into the host's own files: leave the directory rather than delete through it.
      const leaked = mountsBelow(rootfs)
      if (leaked.length > 0)
        throw new ContainerError(`not removing ${rootfs}: the host still has mounts below it (${leaked.join(', ')}); were the container's mounts made private?`, 125)
      rmSync(rootfs, { recursive: true, force: true })
    },
  }
}

/** The cached tarball of a built-in image, built on first use. */
function builtinTarball(image: BuiltinImage): string {
  const dir = join(DEFAULT_ROOT, 'builtin')
  const tarball = join(dir, `${image}.tar`)
  // Rebuilt when the probe (or busybox) it copies is newer: `make -C native` must show in it.
  const sources = image === 'busybox' ? [PROBE_PATH, HOST_BUSYBOX] : [PROBE_PATH]
  if (existsSync(tarball) && sources.every((s) => statSync(s).mtimeMs <= statSync(tarball).mtimeMs)) return tarball
  mkdirSync(dir, { recursive: true })
  // Build beside the cache and rename into place, so a half-written tarball is never used.
  const partial = `${tarball}.${process.pid}`
  buildRootfsTarball(image, partial)
  renameSync(partial, tarball)
  return tarball
}
