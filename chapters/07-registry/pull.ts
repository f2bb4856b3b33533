/**
 * Chapter 07: `docker pull`, from a reference to an image in the store.
 *
 *   reference → GET /v2/ (+ token) → manifest (→ index → this platform's manifest)
 *   → config → which layers the store already has → download the rest, a few at once,
 *   each verified → unpack them in order (chapter 06) → the image, tagged
 *
 * Every step reports Docker's progress messages. What is given for it: references
 * (lib/reference.ts), the session, its token and manifests (lib/registry-client.ts), platforms
 * (lib/platform.ts), the messages (lib/pull-progress.ts).
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Platform } from '../../lib/platform.ts'
import type { Reference } from '../../lib/reference.ts'
import type { FetchedManifest, ImageManifest, PullOptions, PullResult, Session } from '../../lib/registry.ts'

// These imports are what the signatures need; add the ones your resolveManifest and pullImage
// call, chapter 06's from '#ch/06-images/<file>.ts' (so that --reference-below can swap in the
// reference).

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
  // TODO(07): from a tag or a digest to one image manifest (moby's distribution/pull_v2.go,
  //   pullManifestList and pullSchema2).
  //   1. Fetch what the reference names. A 401 or a 404 must read as Docker's messages do: what in
  //      lib/registry-client.ts gives them?
  //   2. An index or a manifest list is not an image yet: one of its entries names the manifest to fetch next.
  //      Which one, when several could do (the chapter's "Choosing a platform"; moby's filterManifests,
  //      containerd's platforms.Only)? The index is the word of whoever pushed it, entry by entry.
  //      None fitting is Docker's "no matching manifest for OS/ARCH in the manifest list entries",
  //      and what the index does offer.
  //      The entry is the registry's word too, and it becomes a URL: what must hold of it first, and of
  //      what comes back?
  //   3. Keep every manifest you fetch in the blob store; `top` is the first one, whose digest the pull reports.
  //   4. What you end with must be an image manifest; anything else is an Error naming its type.
  //   5. The pull can be cancelled while a registry takes its time to answer: which of the calls you
  //      make here heed a signal? Once you have rejected, what of your code here may still act, on the
  //      registry or on the store? (the chapter's "Nothing after the end")
  throw new NotImplementedError('07-registry', 'resolveManifest')
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
  // TODO(07): the whole pull, in dockerd's order (the chapter's "The whole pull"; moby's
  //   daemon/internal/distribution/pull_v2.go and its xfer/download.go).
  //   1. Reference, session, manifest; "Pulling from" goes out before anything is fetched.
  //   2. options.platform, and a reference that names an image pushed without an index: there is
  //      nothing to choose from. What does docker pull make of that pair, what can say which
  //      platform the image is for, and what may the pull do before it knows? (A refusal says the
  //      image is "not the OS/ARCH asked for".)
  //   3. The store may have the image already: what tells you so from the manifest alone, before any
  //      blob? Then it only needs its tag, the "Digest:" line and "Image is up to date", and nothing
  //      is downloaded.
  //   4. Otherwise the config downloads together with the layers, unless the store has it: what does a
  //      file under its name in blobs/ tell you? Which layers does the store have, and how can you
  //      know it before the config, with its diff IDs, has arrived? (What did chapter 06 remember,
  //      and of which layers? A blob it unpacked once, on another base, is that layer here?) Those
  //      are never downloaded.
  //      The config can fail like any download, while the layers are still coming: when do you first look?
  //   5. The other layers download together, in slots (lib/slots.ts's Slots): never more than
  //      MAX_CONCURRENT_DOWNLOADS at once in the whole process, however many pulls run, unless the
  //      caller gives its own in options.slots (the chapter's "One limit for the daemon"). Where must
  //      the process's slots be made so that two pulls share them? Who holds a slot: the pull, or the
  //      download it starts or watches? A layer whose download waits for a slot says "Waiting": to whom?
  //   6. Another pull in this process may need the same layer at the same time (the chapter's "Two pulls,
  //      one download" and "Two pulls, one layer"): every missing layer goes through your pullLayer
  //      (layer.ts), which downloads and registers it for every pull that needs it. Which of the two
  //      signals (the pull's, the transfer's) is the pull's to give it?
  //   7. With the config in, every layer, present or pulled, must be the one its diff IDs make: whose
  //      word is a layer another pull registered? Layers register bottom first while later ones may
  //      still be downloading; what does the pull still await, and in which order?
  //   8. Failure (the chapter's "When a layer fails"; moby's xfer/download.go and xfer/transfer.go): when
  //      one step fails, or options.signal cancels the pull, it stops watching its downloads at once. When
  //      one failure causes others (a download stopped half-way fails too), which error tells the user what
  //      went wrong? A download can fail at any moment, also while you still wait on a layer below it, and
  //      Node must never see a rejection unhandled. Nothing from bytes that failed their check may end up
  //      as a layer, an image or a tag. What state does the pull need for this, and what must already be
  //      true of a download at the moment it fails? And once the pull has failed, what of it may still
  //      reach the registry or the store? A cancel can also come before any layer exists: what is the
  //      pull waiting on then?
  //   9. Last, the image goes into the store under its name (chapter 06), then the "Digest:" and
  //      "Status:" lines, then the result.
  throw new NotImplementedError('07-registry', 'pullImage')
}
// #endregion pullImage
