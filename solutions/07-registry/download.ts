/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams: a layer is never held in memory, and a blob whose bytes do not match its digest is
 * never stored under any name.
 */
import { parseDigest, writeBlob } from '#ch/06-images/cas.ts'
import { exactly } from '../../lib/registry-client.ts'
import { registryError, request, type Descriptor, type Session } from '../../lib/registry.ts'

// #region downloadBlob
/**
 * GET blob `descriptor.digest` from the session's repository and store it in the CAS at
 * `dir`, verified against the digest and the descriptor's size as it streams. `onData` sees
 * every chunk, for progress; `signal` aborts the download. When it refuses a descriptor's
 * size, its Error says the descriptor has "no valid size".
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
