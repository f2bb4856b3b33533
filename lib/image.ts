/**
 * Images' plumbing, shared by chapter 06's starter and reference (and by the chapters that use
 * the image store after it): where the store keeps what (the layout itself is described in
 * chapter 06's store.ts), the image config's shape, index entries, the tag file, and the bytes
 * of a layer blob. The store's decisions (digests, chain IDs, safe unpacking, sharing layers)
 * are chapter 06's.
 */
import { createHash } from 'node:crypto'
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import tar, { type Extract, type Header } from 'tar-stream'
import { checkImageName } from './names.ts'
import type { Descriptor } from './registry.ts'

// ---------- the store's layout and records ----------

/** The default store, as /var/lib/docker is Docker's; MINIDOCKER_ROOT moves it. */
export const DEFAULT_ROOT = process.env.MINIDOCKER_ROOT ?? '/var/lib/minidocker'

/** The folders of the store at `root`, by Docker's names (chapter 06's store.ts draws the tree). */
export function storePaths(root: string) {
  const image = join(root, 'image', 'overlay2')
  return {
    imagedb: join(image, 'imagedb', 'content'),
    layerdb: join(image, 'layerdb'),
    repositories: join(image, 'repositories.json'),
    diffIdByDigest: join(image, 'distribution', 'diffid-by-digest'),
    graph: join(root, 'overlay2'),
    blobs: join(root, 'blobs'),
    containers: join(root, 'containers'),
  }
}

/**
 * Create the store at `root` if it is missing, and keep other users out of everything in it, as
 * dockerd keeps /var/lib/docker and its layers (0710, 0700): a layer's setuid programs and
 * device nodes must be reachable only through a container, never from the host.
 */
export function prepareStore(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 })
  const paths = storePaths(root)
  for (const dir of [join(root, 'image'), paths.graph, paths.blobs, paths.containers]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    chmodSync(dir, 0o700)
  }
}

/**
 * Containers running from the store's images, as dockerd keeps containers/<id>/config.v2.json:
 * minidocker writes containers/<id>/image.json while a container runs on an image's layers,
 * so that rmi can tell which images (and so which layers) are in use.
 */
export function recordContainer(root: string, container: string, image: string): void {
  const dir = join(storePaths(root).containers, container)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  writeFileSync(join(dir, 'image.json'), JSON.stringify({ Image: image, Pid: process.pid }))
}

export function forgetContainer(root: string, container: string): void {
  rmSync(join(storePaths(root).containers, container), { recursive: true, force: true })
}

/** The IDs of the running containers that use image `id` (a record whose minidocker has died does not count). */
export function containersUsing(root: string, id: string): string[] {
  const dir = storePaths(root).containers
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter((container) => {
    const file = join(dir, container, 'image.json')
    if (!existsSync(file)) return false
    const { Image, Pid } = JSON.parse(readFileSync(file, 'utf8')) as { Image: string; Pid: number }
    return Image === id && existsSync(`/proc/${Pid}`)
  })
}

/** An image or a tag the store does not have. */
export class NoSuchImageError extends Error {
  override name = 'NoSuchImageError'
  constructor(readonly ref: string) {
    super(`No such image: ${ref}`)
  }
}

/** One layer of the layer store: layerdb/sha256/<chain ID>/ and its overlay2 folder. */
export interface LayerRecord {
  chainId: string
  diffId: string
  parent?: string
  /** the layer's folder name under overlay2/ */
  cacheId: string
  /** bytes of the uncompressed tar */
  size: number
}

// ---------- blobs ----------

/** A blob whose bytes do not match the digest it was stored or fetched under. */
export class DigestMismatchError extends Error {
  override name = 'DigestMismatchError'
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch: expected ${expected}, got ${actual}; nothing was stored`)
  }
}

/** Bytes, or a stream of chunks (a file, an HTTP body). */
export type Source = Uint8Array | AsyncIterable<Uint8Array>

/** A file's bytes as a Source, opened only when read: a Source nobody reads opens nothing. */
export async function* fileSource(path: string): AsyncGenerator<Uint8Array> {
  yield* createReadStream(path)
}

/** "sha256:" + the hex of the sha256 of `data`. */
export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

// ---------- digests, blobs and the three IDs ----------

/**
 * Check a digest and return its hex part, the file name it becomes: only "sha256:" and 64
 * lower-case hex digits (go-digest's Validate), so that no name from outside reaches the
 * file system unchecked.
 */
export function parseDigest(digest: string): string {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest)
  if (!match) throw new Error(`invalid digest "${digest}": expected sha256: and 64 lower-case hex digits`)
  return match[1]!
}

/** Where blob `digest` lives in the store at `dir`: dir/sha256/<hex>. */
export function blobPath(dir: string, digest: string): string {
  return join(dir, 'sha256', parseDigest(digest))
}

export function hasBlob(dir: string, digest: string): boolean {
  return existsSync(blobPath(dir, digest))
}

/** Read blob `digest`, checking that the bytes still match their name (a DigestMismatchError if not). */
export function readBlob(dir: string, digest: string): Buffer {
  const data = readFileSync(blobPath(dir, digest))
  const actual = sha256(data)
  if (actual !== digest) throw new DigestMismatchError(digest, actual)
  return data
}

/**
 * The chain ID of the layer with diff ID `diffId` on top of the layer whose chain ID is
 * `parent` (undefined for the bottom layer), as the OCI image spec's config.md defines it.
 */
export function chainId(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId : sha256(`${parent} ${diffId}`)
}

/** The chain ID of every layer of an image, bottom first, from its diff IDs. */
export function chainIds(diffIds: string[]): string[] {
  const chains: string[] = []
  for (const diffId of diffIds) chains.push(chainId(chains.at(-1), diffId))
  return chains
}

/** The image ID: the digest of the config exactly as stored. */
export function imageId(config: Uint8Array | string): string {
  return sha256(config)
}

/** The 12-hex-digit short form `docker images` prints. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)

// ---------- configs and index entries ----------

/** The image config (OCI image spec config.md), the fields this workbook uses. */
export interface ImageConfig {
  architecture: string
  os: string
  variant?: string
  created?: string
  author?: string
  config?: {
    Env?: string[] | null
    Cmd?: string[] | null
    Entrypoint?: string[] | null
    WorkingDir?: string
    User?: string
    Labels?: Record<string, string> | null
    /** the ports `-P` publishes: {"80/tcp": {}} */
    ExposedPorts?: Record<string, object> | null
    StopSignal?: string
  }
  rootfs: { type: 'layers'; diff_ids: string[] }
  history?: { created?: string; created_by?: string; empty_layer?: boolean }[]
}

/** Parse and check a config's JSON: a layer list is what makes it an image. */
export function parseImageConfig(json: string | Uint8Array): ImageConfig {
  const config = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8')) as ImageConfig
  if (config?.rootfs?.type !== 'layers' || !Array.isArray(config.rootfs.diff_ids))
    throw new Error('not an image config: rootfs.diff_ids is missing')
  return config
}

/** An index.json entry: a descriptor that may carry the image's name. */
export type IndexEntry = Descriptor & { annotations?: Record<string, string> }

/**
 * The image name an OCI index entry carries, if any (containerd's annotation, or a ref.name
 * that is a whole reference), checked against the reference grammar.
 */
export function nameOf(descriptor: IndexEntry): string[] {
  const a = descriptor.annotations ?? {}
  const name = a['io.containerd.image.name'] ?? a['org.opencontainers.image.ref.name']
  return typeof name === 'string' && /[:/]/.test(name) ? [checkImageName(name, 'the annotations of index.json')] : []
}

/** This machine's architecture, by OCI's names. */
export const hostArch = (): string => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' })[process.arch as string] ?? process.arch

// ---------- tags: Docker's repositories.json, {"Repositories": {"busybox": {"busybox:latest": ID}}} ----------

// The tag file, read into Maps.
type Repositories = Map<string, Map<string, string>>

function readRepositories(file: string): Repositories {
  if (!existsSync(file)) return new Map()
  const { Repositories: repos = {} } = JSON.parse(readFileSync(file, 'utf8')) as { Repositories?: Record<string, Record<string, string>> }
  return new Map(Object.entries(repos).map(([repo, tags]) => [repo, new Map(Object.entries(tags))]))
}

function writeRepositories(file: string, repos: Repositories): void {
  mkdirSync(dirname(file), { recursive: true })
  const json = Object.fromEntries([...repos].map(([repo, tags]) => [repo, Object.fromEntries(tags)]))
  writeFileSync(`${file}.tmp`, JSON.stringify({ Repositories: json }))
  renameSync(`${file}.tmp`, file)
}

/** "busybox" → "busybox:latest"; a name with a tag or a digest is kept as it is. */
export function withTag(ref: string): string {
  return ref.includes('@') || /:[^/]+$/.test(ref) ? ref : `${ref}:latest`
}

/** The repository of a reference: "busybox:latest" → "busybox". */
const repoOf = (ref: string) => ref.replace(/@.*$/, '').replace(/:[^/]+$/, '')

/** In tag file `file`, point `ref` at image `id` (undefined: remove the tag). */
export function setTag(file: string, ref: string, id: string | undefined): void {
  const repos = readRepositories(file)
  const tagged = withTag(id === undefined ? ref : checkImageName(ref, 'a tag'))
  const repo = repos.get(repoOf(tagged)) ?? new Map<string, string>()
  if (id === undefined) repo.delete(tagged)
  else repo.set(tagged, id)
  if (repo.size === 0) repos.delete(repoOf(tagged))
  else repos.set(repoOf(tagged), repo)
  writeRepositories(file, repos)
}

/** Every tag in tag file `file`, as [reference, image ID]. */
export function readTags(file: string): [string, string][] {
  return [...readRepositories(file).values()].flatMap((tags) => [...tags])
}

// ---------- layer blobs ----------

const BLOCK = 512
/** The most bytes a pax or GNU long-name header may carry (tar-stream's own limit). */
const MAX_LONG_HEADER = 4 * 1024 * 1024
/** Typeflags (minus '0', as tar-stream numbers them) whose data describes the next entry. */
const PAX = 72 // 'x'
const PAX_GLOBAL = 55 // 'g'
const LONG_HEADERS = new Set([PAX, PAX_GLOBAL, 27, 28, 30]) // and 'K', 'L', 'N'

/** A tar number: octal text, or base-256 when the first byte's top bit is set. */
function tarNumber(field: Uint8Array): number {
  if (field[0]! & 0x80) return field.subarray(1).reduce((n, b) => n * 256 + b, field[0]! & 0x7f)
  const text = Buffer.from(field).toString('latin1').replace(/\0.*$/s, '').trim()
  return text === '' ? 0 : parseInt(text, 8)
}

/** The size record of a pax header's data ("<len> size=<n>\n"), if it has one. */
function paxSize(data: Buffer): number | undefined {
  const match = /(?:^|\n)\d+ size=(\d+)\n/.exec(data.toString('latin1'))
  return match ? Number(match[1]) : undefined
}

/**
 * The tar inside a layer blob, checked block by block the way Go's archive/tar reads it:
 * gunzipped when it starts with gzip's magic number; ended at the end-of-archive marker (a
 * zero block), so entries hidden after it are never applied; and refused when an entry's data
 * is cut short, rather than unpacked with made-up bytes. A tar that stops inside the padding
 * of its last block is completed: some tools (umoci 0.4) write them so. `onData` sees every
 * byte of the tar, the part after the marker included: hash them for the diff ID.
 */
export async function* layerTar(source: Source, onData: (chunk: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  const input = (async function* () {
    yield* source instanceof Uint8Array ? [source] : source
  })()
  const first = await input.next()
  if (first.done) return
  const all = (async function* () {
    yield first.value
    yield* input
  })()
  let bytes: AsyncIterable<Uint8Array> = all
  if (first.value[0] === 0x1f && first.value[1] === 0x8b) {
    const gunzip = createGunzip()
    pipeline(Readable.from(all), gunzip).catch(() => {}) // a failure destroys gunzip, whose reader then throws it
    bytes = gunzip
  }
  let pending = Buffer.alloc(0) // bytes read but not yet passed on
  let ended = false
  let entry = '' // the name of the entry whose data is being read
  let data = 0 // bytes of its data still to come
  let padding = 0 // then bytes of padding to the next block
  let long: { type: number; parts: Buffer[] } | undefined // a pax or long-name header being read
  let nextSize: number | undefined // a pax size record for the next entry
  let globalSize: number | undefined
  for await (const chunk of bytes) {
    onData(chunk)
    if (ended) continue // keep reading: the diff ID covers every byte
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk])
    while (!ended) {
      if (data + padding > 0) {
        const n = Math.min(data + padding, pending.length)
        if (n === 0) break
        const part = pending.subarray(0, n)
        pending = pending.subarray(n)
        const fromData = Math.min(n, data)
        long?.parts.push(part.subarray(0, fromData))
        data -= fromData
        padding -= n - fromData
        yield part
        if (data === 0 && padding === 0 && long) {
          const size = paxSize(Buffer.concat(long.parts))
          if (long.type === PAX) nextSize = size ?? globalSize
          if (long.type === PAX_GLOBAL) globalSize = size
          long = undefined
        }
        continue
      }
      if (pending.length < BLOCK) break
      const header = pending.subarray(0, BLOCK)
      pending = pending.subarray(BLOCK)
      let sum = 0
      header.forEach((b, i) => (sum += i >= 148 && i < 156 ? 32 : b))
      // the end-of-archive marker: nothing after it belongs to the layer
      ended = sum === 8 * 32
      if (!ended) {
        const typeflag = header[156] === 0 ? 0 : header[156]! - 48
        const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
        const ustar = header.subarray(257, 263).toString('latin1') === 'ustar\0'
        const prefix = ustar ? header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '') : ''
        let size = tarNumber(header.subarray(124, 136))
        if (LONG_HEADERS.has(typeflag)) {
          if (size > MAX_LONG_HEADER) throw new Error(`refusing the layer: a long-name or pax header of ${size} bytes`)
          long = { type: typeflag, parts: [] }
        } else {
          if (nextSize !== undefined) size = nextSize
          nextSize = undefined
          // as tar-stream reads it: a directory, or an old-style file named "dir/", has no data
          if (typeflag === 5 || (typeflag === 0 && name.endsWith('/'))) size = 0
          entry = prefix ? `${prefix}/${name}` : name
        }
        if (!(size >= 0)) throw new Error(`refusing the layer: entry ${JSON.stringify(entry)} has an invalid size`)
        data = size
        padding = (BLOCK - (size % BLOCK)) % BLOCK
      }
      yield header
    }
  }
  if (ended) return
  if (pending.length > 0 && data === 0 && padding === 0)
    throw new Error(`refusing the layer: the tar ends inside a header, after entry ${JSON.stringify(entry)}`)
  if (data > 0) {
    const what = long ? 'a long-name or pax header' : `entry ${JSON.stringify(entry)}`
    throw new Error(`refusing the layer: ${what} is cut short: ${data} of its bytes are missing`)
  }
  if (padding > 0) yield new Uint8Array(padding)
}

/** The pax record prefix of an extended attribute: "SCHILY.xattr.NAME=VALUE" (star's, and Go's archive/tar's). */
const PAX_XATTR = 'SCHILY.xattr.'

/** The extended attributes each header carries, by the header object tar-stream emitted. */
const xattrsByHeader = new WeakMap<Header, Map<string, Buffer>>()

/** The SCHILY.xattr.* records of a pax header's data ("LEN KEY=VALUE\n" each), values as the bytes the tar holds. */
function paxXattrs(data: Buffer): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>()
  for (let at = 0; at < data.length; ) {
    const space = data.indexOf(0x20, at)
    const length = Number(data.subarray(at, space).toString('latin1'))
    if (space < 0 || !(length > 0) || at + length > data.length) break
    const record = data.subarray(space + 1, at + length - 1) // without the trailing "\n"
    const equals = record.indexOf(0x3d)
    const key = record.subarray(0, equals).toString('utf8')
    if (equals > 0 && key.startsWith(PAX_XATTR)) xattrs.set(key.slice(PAX_XATTR.length), Buffer.from(record.subarray(equals + 1)))
    at += length
  }
  return xattrs
}

/**
 * tar-stream's extract(), whose entries' extended attributes xattrsOf() gives. tar-stream
 * decodes pax values as UTF-8 text, which a binary value does not survive (security.capability
 * is a struct in the kernel's format), so each pax header's data is read here again as bytes.
 * Only the entry's own pax header counts, as in Go's archive/tar: a global one sets no xattrs.
 */
export function layerExtract(): Extract {
  const extract = tar.extract()
  // tar-stream 3's parser: _decodeLongHeader(data) reads a pax header, _applyLongHeaders() gives it to the next entry
  const parser = extract as unknown as { _header: Header; _decodeLongHeader(data: Buffer): void; _applyLongHeaders(): void }
  if (typeof parser._decodeLongHeader !== 'function' || typeof parser._applyLongHeaders !== 'function')
    throw new Error('this tar-stream has no pax hooks: layerExtract() (lib/image.ts) needs tar-stream 3')
  const decode = parser._decodeLongHeader.bind(parser)
  const apply = parser._applyLongHeaders.bind(parser)
  let pending: Map<string, Buffer> | undefined
  parser._decodeLongHeader = (data) => {
    if ((parser._header.type as string) === 'pax-header') pending = paxXattrs(Buffer.from(data))
    decode(data)
  }
  parser._applyLongHeaders = () => {
    apply()
    if (pending) xattrsByHeader.set(parser._header, pending)
    pending = undefined
  }
  return extract
}

/** The extended attributes (SCHILY.xattr.NAME pax records) of an entry that layerExtract() read: NAME → the value's bytes. */
export function xattrsOf(header: Header): Map<string, Buffer> {
  return xattrsByHeader.get(header) ?? new Map()
}
