/**
 * Chapter 07: `docker pull`, from a reference to an image in the store.
 *
 *   reference → GET /v2/ (+ token) → manifest (→ index → this platform's manifest)
 *   → config → which layers the store already has → download the rest, a few at once,
 *   each verified → unpack them in order (chapter 06) → the image, tagged
 *
 * Every step reports Docker's progress messages.
 */
import { readBlob, writeBlob } from '#ch/06-images/cas.ts'
import { parseImageConfig } from '../../lib/image.ts'
import { chainIds } from '#ch/06-images/ids.ts'
import { addImage, allImageIds, imageConfig, storePaths, tagImage } from '#ch/06-images/store.ts'
import { IMAGE_TYPES, INDEX_TYPES, MAX_CONCURRENT_DOWNLOADS, type Descriptor, type FetchedManifest, type ImageIndex, type ImageManifest, type PullOptions, type PullResult, type Session } from '../../lib/registry.ts'
import { manifestFor, openSession } from '../../lib/registry-client.ts'
import { downloadBlob } from './download.ts'
import { canRun, formatPlatform, hostPlatform, normalizePlatform, type Platform } from '../../lib/platform.ts'
import { shortDigest } from '../../lib/jsonmessage.ts'
import type { LayerSource } from '../../lib/registry.ts'
import { intactBlob, pullLayer, storedLayer } from './layer.ts'
import { statusMessage } from '../../lib/pull-progress.ts'
import { GRAMMAR } from '../../lib/names.ts'
import { familiarName, parseReference, type Reference } from '../../lib/reference.ts'
import { Slots } from '../../lib/slots.ts'

/** The download slots of this process, shared by every pull not given others (dockerd's transfer manager). */
const DOWNLOAD_SLOTS = new Slots(MAX_CONCURRENT_DOWNLOADS)

/**
 * `promise`, or the signal's reason the moment it aborts. The request behind `promise` is not
 * stopped, only left: what it answers is never looked at.
 */
function unlessAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise
  // its answer or its failure once nobody waits for it
  promise.catch(() => {})
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', stop, { once: true })
    promise.finally(() => signal.removeEventListener('abort', stop)).then(resolve, reject)
  })
}

// #region resolveManifest
/**
 * The image manifest `ref` names, for `platform`: fetch what the tag or digest names; when
 * that is an index or a manifest list, select the platform's entry and fetch its manifest.
 * Every manifest fetched is kept in the blob store at `blobs`. Returns the first one fetched
 * (its digest is the one `docker pull` reports) and the parsed image manifest. An index entry
 * it refuses is an Error that quotes what it refuses. When `signal` aborts, it rejects with the
 * signal's reason.
 */
export async function resolveManifest(session: Session, ref: Reference, blobs: string, platform: Platform, signal?: AbortSignal): Promise<{ top: FetchedManifest; manifest: ImageManifest }> {
  const top = await unlessAborted(manifestFor(session, ref, ref.digest ?? ref.tag!), signal)
  await writeBlob(blobs, top.body, top.digest)
  let fetched = top
  if (INDEX_TYPES.includes(top.mediaType)) {
    const index = JSON.parse(top.body.toString('utf8')) as ImageIndex
    // of the entries this machine runs, the nearest to its own platform first, as containerd's platforms.Only
    // orders its platformVector: its own, then its own architecture's older variants, newest first, then another
    // architecture it runs (386 on amd64). That order decides, not the index's.
    const own = normalizePlatform(platform)
    const level = (p: Platform): number => Number(/^v(\d+)$/.exec(p.variant ?? '')?.[1] ?? 1)
    const rank = ({ platform: p }: Descriptor): number => {
      // an entry that names no platform at all may be anything: it fits, after every entry that names one (moby's filterManifests)
      if (p === undefined || p === null) return Number.MAX_SAFE_INTEGER
      if (typeof p?.os !== 'string' || typeof p.architecture !== 'string') return -1
      const have = normalizePlatform(p)
      if (!canRun(own, have)) return -1
      return have.architecture === own.architecture ? level(own) - level(have) : 1000
    }
    const entry = index.manifests.filter((e) => rank(e) >= 0).sort((a, b) => rank(a) - rank(b))[0]
    if (!entry) {
      const offered = index.manifests.map((e) => (e.platform ? formatPlatform(e.platform) : '(no platform)')).join(', ')
      throw new Error(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries (it has: ${offered || 'nothing'})`)
    }
    if (!GRAMMAR.digest.test(entry.digest)) throw new Error(`${familiarName(ref)}: the index's entry for ${formatPlatform(platform)} has digest ${JSON.stringify(entry.digest)}, not a sha256 digest`)
    fetched = await unlessAborted(manifestFor(session, ref, entry.digest), signal)
    if (fetched.body.length !== entry.size) throw new Error(`${familiarName(ref)}: manifest ${entry.digest} is ${fetched.body.length} bytes, but the index gives ${entry.size}`)
    await writeBlob(blobs, fetched.body, fetched.digest)
  }
  if (!IMAGE_TYPES.includes(fetched.mediaType))
    throw new Error(`${familiarName(ref)}: expected an image manifest, got ${fetched.mediaType}`)
  return { top, manifest: JSON.parse(fetched.body.toString('utf8')) as ImageManifest }
}
// #endregion resolveManifest

// #region pullImage
/**
 * Pull `reference` into the store at options.root and tag it with its familiar name.
 * Reports what dockerd reports, message for message (the header of lib/pull-progress.ts shows
 * `docker pull busybox`'s; "The real thing" shows how to watch your own docker's). "Pulling from"
 * names the repository's path in its registry ("library/busybox" on Docker Hub, "busybox" for
 * 127.0.0.1:5000/busybox); a layer's messages go by its short digest (shortDigest). The tests
 * look for "Already exists", "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum",
 * "Download complete", "Extracting", "Pull complete", "Digest:", and "Status: Downloaded newer
 * image for NAME" or "Status: Image is up to date for NAME", each where and as docker pull sends it.
 * Layers download in options.slots, or else in this process's own, MAX_CONCURRENT_DOWNLOADS
 * (lib/registry.ts) at once for all the pulls of the process together. When options.signal
 * aborts, the pull fails with its reason; when anything else fails, with what went wrong.
 */
export async function pullImage(reference: string, options: PullOptions): Promise<PullResult> {
  const { root } = options
  const progress = options.progress ?? (() => {})
  const ref = parseReference(reference)
  const name = familiarName(ref)
  const session = await unlessAborted(openSession(ref), options.signal)
  progress({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag })

  const paths = storePaths(root)
  const { top, manifest } = await resolveManifest(session, ref, paths.blobs, options.platform ?? hostPlatform(), options.signal)

  // an image of one platform has no index to choose from: dockerd checks its config instead
  const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/')
  const checkPlatform = (image: Platform): void => {
    if (!options.platform || INDEX_TYPES.includes(top.mediaType)) return
    const [actual, wanted] = [normalizePlatform(image), normalizePlatform(options.platform)]
    if (actual.os !== wanted.os || actual.architecture !== wanted.architecture || (wanted.variant && wanted.variant !== actual.variant))
      throw new Error(`${name}: the image is for ${platformName(actual)}, not the ${platformName(wanted)} asked for, and it has no other platforms`)
  }
  if (allImageIds(root).includes(manifest.config.digest)) {
    const id = manifest.config.digest
    checkPlatform(imageConfig(root, id))
    tagImage(root, name, id)
    progress({ status: `Digest: ${top.digest}` })
    progress({ status: `Status: Image is up to date for ${name}` })
    return { id, digest: top.digest, name, downloaded: 0 }
  }
  const controller = new AbortController()
  // this pull's end: its own failure, or its caller's cancel
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal
  // a config in the store is used only if its bytes are still its digest; else the registry's copy replaces it
  const configDone = intactBlob(paths.blobs, manifest.config.digest, signal).then((intact) => (intact ? undefined : downloadBlob(session, manifest.config, paths.blobs, undefined, signal)))
  configDone.catch(() => {})
  // one manifest, no index: only its config says whether it is the platform asked for, and its layers wait for that word
  if (options.platform && !INDEX_TYPES.includes(top.mediaType)) {
    await configDone
    checkPlatform(parseImageConfig(readBlob(paths.blobs, manifest.config.digest)))
  }
  // a layer is there when the diff IDs of it and of every layer below are remembered and the chain is stored
  const present = manifest.layers.map((_, i) => storedLayer(root, manifest.layers.slice(0, i + 1).map((l) => l.digest)))
  manifest.layers.forEach((layer, i) => progress(statusMessage(shortDigest(layer.digest), present[i] ? 'Already exists' : 'Pulling fs layer')))

  let failure: unknown
  const source: LayerSource = { root, session, layers: manifest.layers, slots: options.slots ?? DOWNLOAD_SLOTS }
  // each layer through the transfer every pull of the process shares: download and registration
  const layers = manifest.layers.map(async (_, i) => {
    if (present[i]) return present[i]
    try {
      return await pullLayer(source, i, { progress, signal })
    } catch (error) {
      failure ??= error
      controller.abort()
      throw error
    }
  })
  // each failure is handled below, in order; keep Node from calling an early one unhandled
  for (const layer of layers) layer.catch(() => {})
  let config: Buffer
  try {
    await configDone
    config = readBlob(paths.blobs, manifest.config.digest)
    const image = parseImageConfig(config)
    checkPlatform(image)
    const diffIds = image.rootfs.diff_ids
    if (diffIds.length !== manifest.layers.length)
      throw new Error(`${name}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length} diff IDs`)
    const chains = chainIds(diffIds)
    for (let i = 0; i < manifest.layers.length; i++) {
      const layer = await layers[i]!
      if (layer.chainId !== chains[i])
        throw new Error(`${name}: layer ${manifest.layers[i]!.digest} is layer ${layer.chainId} (diff ID ${layer.diffId}), but the config's diff IDs make it ${chains[i]}`)
    }
  } catch (error) {
    failure ??= error
    controller.abort()
    await Promise.allSettled(layers)
    throw failure
  }

  const id = await addImage(root, config, [name])
  const downloaded = present.filter((p) => !p).length
  progress({ status: `Digest: ${top.digest}` })
  progress({ status: `Status: Downloaded newer image for ${name}` })
  return { id, digest: top.digest, name, downloaded }
}
// #endregion pullImage
