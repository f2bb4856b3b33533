/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams: a layer is never held in memory, and a blob whose bytes do not match its digest is
 * never stored under any name.
 */
import { parseDigest, writeBlob } from '#ch/06-images/cas.ts'
import { registryError, request, type Descriptor, type Session } from '../../lib/registry.ts'

// #region exactly
/**
 * Pass `body` through, checking it is exactly `size` bytes long: a registry that sends more
 * than the manifest promised is stopped as soon as it goes over (it could otherwise fill the
 * disk), and one that stops early gets an error saying so instead of a digest mismatch.
 */
export async function* exactly(body: AsyncIterable<Uint8Array>, size: number, what: string): AsyncGenerator<Uint8Array> {
  let seen = 0
  for await (const chunk of body) {
    seen += chunk.length
    if (seen > size) throw new Error(`${what}: the registry sent more than the ${size} bytes the manifest gives`)
    yield chunk
  }
  if (seen < size) throw new Error(`${what}: the registry sent ${seen} of the ${size} bytes the manifest gives`)
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
  parseDigest(descriptor.digest)
  const what = `blob ${descriptor.digest}`
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0)
    throw new Error(`${what}: the manifest gives it no valid size (${JSON.stringify(descriptor.size)}), so its download could not be bounded`)
  const headers: Record<string, string> = session.token ? { Authorization: `Bearer ${session.token}` } : {}
  const response = await request(session, `/v2/${session.repository}/blobs/${descriptor.digest}`, { signal, headers })
  if (!response.ok || !response.body) throw await registryError(response, what)
  // Node's web streams are async iterables; the DOM typings do not say so
  const body = response.body as unknown as AsyncIterable<Uint8Array>
  await writeBlob(dir, exactly(body, descriptor.size, what), descriptor.digest, onData)
}
// #endregion downloadBlob
