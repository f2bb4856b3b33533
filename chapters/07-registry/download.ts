/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams. The bytes are hashed on their way to a temporary file (chapter 06's writeBlob), so
 * a layer is never held in memory, and a blob whose bytes do not match its digest is never
 * stored under any name.
 *
 * Check your work with `npx workbook check 7`.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { parseDigest, writeBlob } from '#ch/06-images/cas.ts'
import { registryError, request, type Descriptor, type Session } from '../../lib/registry.ts'

// #region exactly
/**
 * Pass `body` through, checking it is exactly `size` bytes long: a registry that sends more
 * than the manifest promised is stopped as soon as it goes over (it could otherwise fill the
 * disk), and one that stops early gets an error saying so instead of a digest mismatch.
 */
export async function* exactly(body: AsyncIterable<Uint8Array>, size: number, what: string): AsyncGenerator<Uint8Array> {
  // TODO(07): count the bytes as they pass.
  //   1. for await each chunk of body: add its length to a counter.
  //   2. Past `size`: throw an Error naming `what` at once, before yielding the chunk: do not read on.
  //   3. Otherwise yield the chunk.
  //   4. When the body ends short of `size`, throw an Error naming `what`, the bytes seen and `size`.
  throw new NotImplementedError('07-registry', 'exactly')
}
// #endregion exactly

// #region downloadBlob
/**
 * GET blob `descriptor.digest` from the session's repository and store it in the CAS at
 * `dir`, verified against the digest as it streams (writeBlob does the hashing), and against
 * the descriptor's size, which is required: without it nothing would bound what the registry
 * sends. `onData` sees every chunk, for progress; `signal` aborts the download.
 */
export async function downloadBlob(
  session: Session,
  descriptor: Descriptor,
  dir: string,
  onData?: (chunk: Uint8Array) => void,
  signal?: AbortSignal,
): Promise<void> {
  // TODO(07): stream one blob into the store, verified.
  //   1. parseDigest(descriptor.digest) first: a digest goes into a URL and a file name.
  //   2. request(session, `/v2/${session.repository}/blobs/${digest}`, { signal }).
  //   3. Not ok (or no body): throw await registryError(response, `blob ${digest}`).
  //   4. Node can read the body with for await (cast it: response.body as unknown as
  //      AsyncIterable<Uint8Array>). Pass it through exactly(body, descriptor.size, what).
  //   5. writeBlob(dir, that, descriptor.digest, onData) from chapter 06 hashes while it writes and
  //      refuses a mismatch with a DigestMismatchError, leaving nothing behind.
  throw new NotImplementedError('07-registry', 'downloadBlob')
}
// #endregion downloadBlob
