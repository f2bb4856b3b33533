/**
 * The built-in images: root filesystems the project makes from what the machine has, with
 * nothing downloaded. `probe` holds the static probe (native/probe.c) at /bin/probe;
 * `busybox` adds Debian's static busybox (package busybox-static) with a link per applet, so
 * a container has a shell.
 *
 * Each is made as a tarball because that is what an image layer is: chapter 06 unpacks the
 * same kind of file, and `docker import` takes it too, to compare with the real thing.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { ContainerError } from '../lib/errors.ts'
import { PROBE_PATH } from '../native/helper.ts'

export const BUILTIN_IMAGES = ['probe', 'busybox'] as const
export type BuiltinImage = (typeof BUILTIN_IMAGES)[number]

export const HOST_BUSYBOX = '/bin/busybox'

/** The directories a container expects to find: mount points and scratch space. */
const DIRS = ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp', 'root', 'usr/bin', 'usr/sbin', 'sbin', 'var']

export function isBuiltinImage(name: string): name is BuiltinImage {
  return (BUILTIN_IMAGES as readonly string[]).includes(name)
}

/** Write the tarball of built-in image `image` to `tarPath`. */
export function buildRootfsTarball(image: BuiltinImage, tarPath: string): string {
  if (image === 'busybox' && !existsSync(HOST_BUSYBOX))
    throw new Error(`the busybox image needs ${HOST_BUSYBOX}: apt-get install busybox-static`)
  const stage = mkdtempSync(join(tmpdir(), `minidocker-${image}-`))
  try {
    fillRootfs(stage, image === 'busybox')
    execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', stage, '-cf', tarPath, '.'])
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
  return tarPath
}

/** Unpack a rootfs tarball into `dir` (created if missing), keeping modes and owners. */
export function unpackTarball(tarPath: string, dir: string): string {
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('tar', ['--numeric-owner', '-C', dir, '-xf', tarPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    // GNU tar skips an entry that would escape and fails at the end: say which, on one line
    const why = String((error as { stderr?: Buffer }).stderr ?? '').split('\n').filter((l) => l && !l.includes('Exiting with failure'))
    throw new ContainerError(`refusing rootfs tarball ${tarPath}: ${why.join('; ') || (error as Error).message}`, 125)
  }
  return dir
}

function fillRootfs(dir: string, busybox: boolean): void {
  chmodSync(dir, 0o755) // the image's / (a temp dir starts as 0700): any user must reach its files
  for (const d of DIRS) mkdirSync(join(dir, d), { recursive: true })
  chmodSync(join(dir, 'tmp'), 0o1777)
  copyFileSync(PROBE_PATH, join(dir, 'bin/probe'))
  chmodSync(join(dir, 'bin/probe'), 0o755)
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n')
  if (busybox) addBusybox(dir)
}

/** Copy the static busybox and link each applet it lists (bin/sh, usr/bin/awk, ...) to it. */
function addBusybox(dir: string): void {
  copyFileSync(HOST_BUSYBOX, join(dir, 'bin/busybox'))
  chmodSync(join(dir, 'bin/busybox'), 0o755)
  const applets = execFileSync(HOST_BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)
  for (const applet of applets) {
    const link = join(dir, applet)
    if (existsSync(link)) continue
    mkdirSync(dirname(link), { recursive: true })
    symlinkSync('/bin/busybox', link)
  }
}
