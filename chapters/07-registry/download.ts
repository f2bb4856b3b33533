/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams: a layer is never held in memory, and a blob whose bytes do not match its digest is
 * never stored under any name.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Descriptor, Session } from '../../lib/registry.ts'

// These imports are what the signature needs; add the ones your code calls.

// #region downloadBlob
/**
 * GET blob `descriptor.digest` from the session's repository and store it in the CAS at
 * `dir`, verified against the digest and the descriptor's size as it streams. `onData` sees
 * every chunk, for progress; `signal` aborts the download. When it refuses a descriptor's
 * size, its Error says the descriptor has "no valid size"; when it gives up on a blob, its
 * Error names the blob.
 */
export async function downloadBlob(
  session: Session,
  descriptor: Descriptor,
  dir: string,
  onData?: (chunk: Uint8Array) => void,
  signal?: AbortSignal,
): Promise<void> {
  // TODO(07): stream one blob into the store, verified (the chapter's "Downloading, verified while streaming";
  //   containerd's remotes/docker/fetcher.go and content.Copy do the same job).
  //   1. The digest becomes part of a URL and of a file name; the size is the registry's word too, and the
  //      only thing that bounds the body. What must you know of each before you send anything?
  //   2. A registry that wanted a token for the manifest wants it for the blob too (where does the
  //      session keep it?). A token lives for minutes, a pull can last longer: what does the registry's
  //      401 say about the token, and what may you do about it? A failed answer is lib/registry.ts's
  //      RegistryError, naming the blob.
  //   3. What must hold while the bytes arrive: a layer of gigabytes is never whole in memory; nothing is
  //      stored under a digest its bytes do not have; a registry that sends more than the size is cut
  //      off at once, and one that sends less is told so, not reported as a digest mismatch. Which of
  //      these does chapter 06 already guarantee, and which does lib/registry-client.ts have ready?
  //   4. Who else must be able to stop the request, and who must see every chunk?
  //   5. The connection breaks off with most of a big layer received, as links and mirrors do. docker pull
  //      goes on (moby's layerDescriptor.Download in daemon/internal/distribution/pull_v2.go, and the loop
  //      around it in xfer/download.go's makeDownloadFunc). What do you still have at that moment, and
  //      where? What can the next request ask for, and what may its answer turn out to be? Which failures
  //      are worth another request (moby's retryOnError), and when does a download give up?
  throw new NotImplementedError('07-registry', 'downloadBlob')
}
// #endregion downloadBlob
