/**
 * Root filesystems for tests: a built-in image's tarball (minidocker/builtin.ts), made once
 * per test file, unpacked into a fresh temp dir for each test.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { buildRootfsTarball, unpackTarball, type BuiltinImage } from '../../minidocker/builtin.ts'
import { mountsBelow } from '../../lib/mounts.ts'
import { onCleanup, tempDir } from './files.ts'

const tarballs = new Map<BuiltinImage, string>()
let tarballDir: string | undefined

afterAll(() => {
  if (tarballDir) rmSync(tarballDir, { recursive: true, force: true })
  tarballDir = undefined
  tarballs.clear()
})

function tarball(image: BuiltinImage): string {
  let path = tarballs.get(image)
  tarballDir ??= mkdtempSync(join(tmpdir(), 'minidocker-images-'))
  if (!path) tarballs.set(image, (path = buildRootfsTarball(image, join(tarballDir, `${image}.tar`))))
  return path
}

/**
 * A fresh root filesystem from built-in image `image` in `dir` (a new temp dir unless given),
 * removed after the test. Any mount a broken container leaked onto the host below it is
 * detached first, so removing the directory can never delete through a bind mount into the
 * host's own files.
 */
export function tempRootfs(image: BuiltinImage = 'probe', dir = tempDir('minidocker-rootfs-')): string {
  unpackTarball(tarball(image), dir)
  onCleanup(() => {
    for (const m of mountsBelow(dir).reverse()) execFileSync('umount', ['-l', m])
  })
  return dir
}
