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
import { chainIds } from '#ch/06-images/ids.ts'
import { addImage, allImageIds, hasLayer, imageConfig, registerLayer, rememberDiffId, rememberedDiffId, storePaths, tagImage } from '#ch/06-images/store.ts'
import { IMAGE_TYPES, INDEX_TYPES, observed, RegistryError, taskPool, type FetchedManifest, type ImageIndex, type ImageManifest, type Session } from '../../lib/registry.ts'
import { fetchManifest, openSession } from './client.ts'
import { downloadBlob } from './download.ts'
import { hostPlatform, normalizePlatform, selectManifest, type Platform } from './platform.ts'
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
 * Every manifest fetched is kept in the blob store at `blobs`. Returns the first one fetched
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
 * As dockerd does, it stops right after the manifest when the store has the image (its ID is
 * the config's digest), and otherwise fetches the config and the layers together: a layer is
 * known from its blob digest (the diff ID a former pull remembered for it), not from the config.
 * Reports, as dockerd does: "Pulling from", per layer "Already exists" or "Pulling fs layer"
 * (then "Waiting" when it has to queue), "Downloading" with a bar, "Verifying Checksum",
 * "Download complete", "Extracting", "Pull complete"; then "Digest: " and "Status: ".
 * Layers download up to options.concurrency at a time; they are unpacked bottom first. On
 * any failure the other downloads are stopped and the first error is thrown.
 */
export async function pullImage(reference: string, options: PullOptions): Promise<PullResult> {
  // TODO(07): the whole pull, in dockerd's order (the chapter's "The whole pull").
  //   1. Open a session, report where you pull from, and resolve the manifest for the platform
  //      asked for, or this machine's.
  //   2. An image pushed without an index cannot be chosen by platform: when one was asked for,
  //      the image's config must be for it.
  //   3. The store may have the image already (an image ID is its config's digest): then tag it,
  //      report the digest and "Image is up to date", and stop.
  //   4. Otherwise start fetching the config, and meanwhile decide each layer from the store
  //      alone (the diff ID earlier pulls remembered for its blob, and for every layer below it);
  //      report each as "Already exists" or "Pulling fs layer".
  //   5. Download the missing layers together, a few at a time, with progress; the first failure
  //      stops the others and is the one reported, never the aborts it causes.
  //   6. With the config in, check its diff IDs; register the layers bottom first as their
  //      downloads finish, record the image under its name, report the digest and the status.
  throw new NotImplementedError('07-registry', 'pullImage')
}
// #endregion pullImage
