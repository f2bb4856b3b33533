/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams: a layer is never held in memory, and a blob whose bytes do not match its digest is
 * never stored under any name.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { Descriptor, Session } from '../../lib/registry.ts'

// These imports are what the signatures need; add the ones your code calls.

// #region exactly
/**
 * Pass `body` through, checking it is exactly `size` bytes long: a registry that sends more
 * than the manifest promised is stopped as soon as it goes over (it could otherwise fill the
 * disk), and one that stops early gets an error saying so instead of a digest mismatch.
 */
export async function* exactly(body: AsyncIterable<Uint8Array>, size: number, what: string): AsyncGenerator<Uint8Array> {
  // TODO(07): a counting pass-through (a generator: it yields what it reads).
  //   1. A registry that keeps sending would fill the disk. What is the earliest moment you know the body
  //      is too long, and where must the chunk that tells you so never arrive? What becomes of the rest
  //      of the body once you stop (the test counts what your generator pulls from its source)?
  //   2. A body that ends short is an error too, naming `what`, the bytes seen and `size`.
  throw new NotImplementedError('07-registry', 'exactly')
}
// #endregion exactly

// #region downloadBlob
/**
 * GET blob `descriptor.digest` from the session's repository and store it in the CAS at
 * `dir`, verified against the digest and the descriptor's size as it streams. A descriptor
 * whose size is not valid is refused before any request, with an Error whose message says
 * "no valid size". `onData` sees every chunk, for progress; `signal` aborts the download.
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
  //   1. The digest becomes part of a URL and of a file name: check it before it is either (chapter 06).
  //      The size is the registry's word too, and the only thing that bounds the body: what makes
  //      a size usable, and what do you do before any request when it is not?
  //   2. A registry that wanted a token for the manifest wants it for the blob too. A failed answer is
  //      registryError()'s error, naming the blob.
  //   3. What must hold while the bytes arrive: a layer of gigabytes is never whole in memory; nothing is
  //      stored under a digest its bytes do not have; a registry that sends more than the size is cut
  //      off at once, and one that sends less is told so, not reported as a digest mismatch. Which of
  //      these does chapter 06 already guarantee, and which is this chapter's?
  //      (Node's response body can be read with for await, though the DOM typings do not say so.)
  //   4. `signal` must be able to stop the request, and `onData` must see every chunk.
  throw new NotImplementedError('07-registry', 'downloadBlob')
}
// #endregion downloadBlob
