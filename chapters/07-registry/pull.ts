/**
 * Chapter 07: `docker pull`, from a reference to an image in the store.
 *
 *   reference → GET /v2/ (+ token) → manifest (→ index → this platform's manifest)
 *   → config → which layers the store already has → download the rest, a few at once,
 *   each verified → unpack them in order (chapter 06) → the image, tagged
 *
 * Every step reports Docker's progress messages.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { createReadStream } from 'node:fs'
import { blobPath, hasBlob, readBlob, writeBlob } from '#ch/06-images/cas.ts'
import { parseImageConfig } from '#ch/06-images/config.ts'
import { chainIds, imageId } from '#ch/06-images/ids.ts'
import { addImage, allImageIds, hasLayer, registerLayer, rememberDiffId, storePaths } from '#ch/06-images/store.ts'
import { IMAGE_TYPES, INDEX_TYPES, observed, RegistryError, taskPool, type FetchedManifest, type ImageIndex, type ImageManifest, type Session } from '../../lib/registry.ts'
import { fetchManifest, openSession } from './client.ts'
import { downloadBlob } from './download.ts'
import { hostPlatform, selectManifest, type Platform } from './platform.ts'
import { shortDigest, type ProgressSink } from '../../lib/jsonmessage.ts'
import { progressCounter, statusMessage } from './progress.ts'
import { familiarName, parseReference, type Reference } from './reference.ts'

/** dockerd's default --max-concurrent-downloads. */
export const MAX_CONCURRENT_DOWNLOADS = 3

export interface PullOptions {
  /** the image store (chapter 06) */
  root: string
  /** the image to take from an index (default: this machine's) */
  platform?: Platform
  progress?: ProgressSink
  concurrency?: number
}

export interface PullResult {
  /** the image ID */
  id: string
  /** the digest of what the reference named: the index, or the manifest */
  digest: string
  /** the name the image is tagged with: "busybox:latest" */
  name: string
  /** how many layers were downloaded (the others were in the store already) */
  downloaded: number
}

/** fetchManifest, with the errors `docker pull` gives for a missing or forbidden image. */
async function manifestFor(session: Session, ref: Reference, reference: string): Promise<FetchedManifest> {
  try {
    return await fetchManifest(session, reference)
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error
    const repo = familiarName({ domain: ref.domain, path: ref.path })
    if (error.status === 401 || error.status === 403)
      throw new Error(`pull access denied for ${repo}, repository does not exist or may require 'docker login': ${error.message}`, { cause: error })
    if (error.status === 404) throw new Error(`manifest for ${familiarName(ref)} not found: ${error.message}`, { cause: error })
    throw error
  }
}

// #region resolveManifest
/**
 * The image manifest `ref` names, for `platform`: fetch what the tag or digest names; when
 * that is an index or a manifest list, select the platform's entry and fetch its manifest.
 * An index's entry is fetched by its digest only (never by a "digest" that is really a tag)
 * and must have the size the index gives. Every manifest fetched is kept in the blob store at
 * `blobs`. Returns the first one fetched
 * (its digest is the one `docker pull` reports) and the parsed image manifest.
 */
export async function resolveManifest(session: Session, ref: Reference, blobs: string, platform: Platform): Promise<{ top: FetchedManifest; manifest: ImageManifest }> {
  // TODO(07): from a tag or digest to one image manifest.
  //   1. const top = await manifestFor(session, ref, ref.digest ?? ref.tag!) (it turns a 401 or a
  //      404 into Docker's messages), and keep it: writeBlob(blobs, top.body, top.digest).
  //   2. If top.mediaType is one of INDEX_TYPES, parse it as an ImageIndex,
  //      selectManifest(index, platform), then fetch and keep that entry's manifest the same way.
  //   3. What you have now must be one of IMAGE_TYPES; anything else is an Error naming its type.
  //   4. Return { top, manifest: the parsed ImageManifest }: `top` is what the reference named, and
  //      its digest is the one the pull reports.
  throw new NotImplementedError('07-registry', 'resolveManifest')
}
// #endregion resolveManifest

// #region pullImage
/**
 * Pull `reference` into the store at options.root and tag it with its familiar name.
 * Reports, as dockerd does: "Pulling from", per layer "Already exists" or "Pulling fs layer"
 * (then "Waiting" when it has to queue), "Downloading" with a bar, "Verifying Checksum",
 * "Download complete", "Extracting", "Pull complete"; then "Digest: " and "Status: ".
 * Layers download up to options.concurrency at a time; they are unpacked bottom first. On
 * any failure the other downloads are stopped and the first error is thrown.
 */
export async function pullImage(reference: string, options: PullOptions): Promise<PullResult> {
  // TODO(07): the whole pull, in dockerd's order.
  //   1. parseReference, familiarName (the tag name), openSession. Report
  //      { status: 'Pulling from ' + the familiar repository (no tag), id: the digest or the tag },
  //      then resolveManifest(session, ref, storePaths(root).blobs, options.platform ?? hostPlatform()).
  //   2. The config: downloadBlob it into blobs/ unless hasBlob, readBlob it, take
  //      rootfs.diff_ids (one per layer) and chainIds(diffIds). A layer is present when
  //      hasLayer(root, chain). Report statusMessage(shortDigest(layer.digest), 'Already exists'
  //      or 'Pulling fs layer') for each.
  //   3. Start every missing layer's download at once through taskPool(options.concurrency ??
  //      MAX_CONCURRENT_DOWNLOADS), with onWait reporting 'Waiting'. Each: downloadBlob with
  //      progressCounter(progress, id, 'Downloading', layer.size) and an AbortController's signal,
  //      then 'Verifying Checksum'; after the pool, 'Download complete'. Remember the first error
  //      and abort the controller. Add .catch(() => {}) to each promise so an early failure is not
  //      "unhandled" before you await it.
  //   4. Then, bottom first, for each missing layer: await its download, registerLayer(root,
  //      chains[i - 1] ?? null, the blob's read stream passed through observed() with an
  //      'Extracting' progressCounter, diffIds[i]), rememberDiffId, report 'Pull complete'. On any
  //      error: abort, await Promise.allSettled(downloads), throw the first error.
  //   5. Note whether imageId(config) was in the store already, addImage(root, config, [name]),
  //      report { status: 'Digest: ' + top.digest } and { status: 'Status: Downloaded newer image
  //      for NAME' } (or 'Image is up to date for NAME' when nothing was downloaded and the image
  //      was there). Return { id, digest: top.digest, name, downloaded }.
  throw new NotImplementedError('07-registry', 'pullImage')
}
// #endregion pullImage
