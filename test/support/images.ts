/**
 * Test images, made by hand: layer tars (well-formed, truncated or malicious), image configs,
 * manifests, OCI layouts and `docker save` folders. The probe (native/probe.c) is the program
 * inside, so a pulled or loaded image can really run.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { execa } from 'execa'
import tar from 'tar-stream'
import { NotImplementedError } from '../../lib/errors.ts'
import { sha256 } from '../../lib/image.ts'
import { PROBE_PATH } from '../../native/helper.ts'

export interface Entry {
  name: string
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo'
  content?: string | Buffer
  mode?: number
  linkname?: string
}

export { sha256 }

/** Tar `tar` with the typeflag of the header at byte `offset` set to `flag`, its checksum redone. */
export function withTypeflag(tar: Buffer, offset: number, flag: string): Buffer {
  const out = Buffer.from(tar)
  out[offset + 156] = flag.charCodeAt(0)
  out.fill(0x20, offset + 148, offset + 156)
  const sum = out.subarray(offset, offset + 512).reduce((a, b) => a + b, 0)
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, offset + 148, 'latin1')
  return out
}

/** A tar of `entries`, in order, with the two zero blocks at the end unless `trailer` is false. */
export async function tarOf(entries: Entry[], { trailer = true } = {}): Promise<Buffer> {
  const pack = tar.pack()
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'directory' : 'file')
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644)
    const header = { name: e.name, type, mode, linkname: e.linkname, uid: 0, gid: 0, mtime: new Date(1_700_000_000_000) }
    if (type === 'file') pack.entry(header, e.content ?? '')
    else pack.entry(header)
  }
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const chunk of pack) chunks.push(chunk as Buffer)
  const whole = Buffer.concat(chunks)
  return trailer ? whole : whole.subarray(0, whole.length - 1024)
}

/** The probe at /probe, and a small /etc: the base of every runnable test image. */
export function probeEntries(): Entry[] {
  return [
    { name: 'probe', content: readFileSync(PROBE_PATH), mode: 0o755 },
    { name: 'etc/' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nprobe:x:1000:1000::/home/probe:/bin/sh\n' },
    { name: 'etc/group', content: 'root:x:0:\nprobe:x:1000:\nextra:x:2000:probe\n' },
    { name: 'tmp/', mode: 0o1777 },
  ]
}

export const OCI = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
}
export const DOCKER = {
  list: 'application/vnd.docker.distribution.manifest.list.v2+json',
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
}

export interface Blob {
  mediaType: string
  data: Buffer
  digest: string
  size: number
}

const blob = (mediaType: string, data: Buffer): Blob => ({ mediaType, data, digest: sha256(data), size: data.length })
const descriptor = (b: Blob, extra: object = {}) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra })

export interface TestImage {
  config: Blob
  layers: (Blob & { tar: Buffer; diffId: string })[]
  manifest: Blob
  /** the image ID a store must compute */
  id: string
}

export interface ImageOptions {
  /** the "config" object of the image config (Cmd, Env, ...) */
  config?: Record<string, unknown>
  architecture?: string
  os?: string
  /** Docker schema 2 media types instead of OCI ones */
  docker?: boolean
  /** layer tars exactly as given (e.g. truncated ones); otherwise built from entries */
  tars?: Buffer[]
}

/** A whole image: each layer from its entries (gzipped), a config, a manifest. */
export async function buildImage(layers: Entry[][], options: ImageOptions = {}): Promise<TestImage> {
  const types = options.docker ? DOCKER : OCI
  const tars = options.tars ?? (await Promise.all(layers.map((entries) => tarOf(entries))))
  const layerBlobs = tars.map((t) => ({ ...blob(types.layer, gzipSync(t)), tar: t, diffId: sha256(t) }))
  const configJson = {
    created: '2024-01-01T00:00:00Z',
    architecture: options.architecture ?? 'amd64',
    os: options.os ?? 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/probe', 'hostname'], ...options.config },
    rootfs: { type: 'layers', diff_ids: layerBlobs.map((l) => l.diffId) },
    history: layerBlobs.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test/support/images.ts' })),
  }
  const config = blob(types.config, Buffer.from(JSON.stringify(configJson)))
  const manifest = blob(types.manifest, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: descriptor(config),
    layers: layerBlobs.map((l) => descriptor(l)),
  })))
  return { config, layers: layerBlobs, manifest, id: config.digest }
}

/** An OCI index (or, with docker: true, a manifest list) over images of several platforms. */
export function buildIndex(images: { image: TestImage; os: string; architecture: string; variant?: string }[], docker = false): Blob {
  const type = docker ? DOCKER.list : OCI.index
  return blob(type, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: type,
    manifests: images.map(({ image, os, architecture, variant }) =>
      descriptor(image.manifest, { platform: { os, architecture, ...(variant ? { variant } : {}) } })),
  })))
}

function writeBlobs(dir: string, blobs: Blob[]): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  for (const b of blobs) writeFileSync(join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.data)
}

/** An OCI image layout with one index entry per image, named by containerd's annotation. */
export function writeOciLayout(dir: string, images: { image: TestImage; name?: string }[]): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeBlobs(dir, images.flatMap(({ image }) => [image.config, image.manifest, ...image.layers]))
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: images.map(({ image, name }) =>
      descriptor(image.manifest, name ? { annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').at(-1) } } : {})),
  }))
}

/** A `docker save` folder (the legacy layout: <id>/layer.tar, <id>.json, manifest.json). */
export function writeDockerSave(dir: string, images: { image: TestImage; tags: string[] }[]): void {
  const manifest = images.map(({ image, tags }) => {
    const layers = image.layers.map((l) => {
      const folder = l.diffId.slice(7)
      mkdirSync(join(dir, folder), { recursive: true })
      writeFileSync(join(dir, folder, 'layer.tar'), l.tar)
      return `${folder}/layer.tar`
    })
    writeFileSync(join(dir, `${image.id.slice(7)}.json`), image.config.data)
    return { Config: `${image.id.slice(7)}.json`, RepoTags: tags, Layers: layers }
  })
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
}

/** Pack a folder's files (as written above: plain files and folders) into one tar. */
export async function tarFolder(dir: string): Promise<Buffer> {
  const entries: Entry[] = []
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name
      if (statSync(join(dir, path)).isDirectory()) {
        entries.push({ name: `${path}/` })
        walk(path)
      } else entries.push({ name: path, content: readFileSync(join(dir, path)) })
    }
  }
  walk('')
  return tarOf(entries)
}

export interface MinidockerRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * Run the `minidocker` command with the store at `root` and `env` added to the environment. It
 * resolves chapters the way this test run does (the WORKBOOK_* variables are inherited). A
 * chapter step that is not written yet fails the test with that NotImplementedError, as a
 * direct call would.
 */
export async function minidocker(root: string, args: string[], env: Record<string, string> = {}): Promise<MinidockerRun> {
  const bin = fileURLToPath(new URL('../../bin/minidocker.cjs', import.meta.url))
  const result = await execa(process.execPath, [bin, ...args], { env: { MINIDOCKER_ROOT: root, ...env }, reject: false, stdin: 'ignore' })
  const missing = /(\w+)\(\) is not written yet: follow the TODO in it, in chapters\/([\w-]+)\//.exec(result.stderr)
  if (missing) throw new NotImplementedError(missing[2]!, missing[1]!)
  return { code: result.exitCode ?? 128 + 9, stdout: result.stdout, stderr: result.stderr }
}
