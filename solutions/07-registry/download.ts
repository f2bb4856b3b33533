/**
 * Chapter 07: downloading a blob (a config or a layer) into the store, verified while it
 * streams: a layer is never held in memory, and a blob whose bytes do not match its digest is
 * never stored under any name.
 */
import { createHash, type Hash } from 'node:crypto'
import { parseDigest, writeBlob } from '#ch/06-images/cas.ts'
import { exactly } from '../../lib/registry-client.ts'
import { fetchToken, parseChallenge, pullScope } from '../../lib/registry-auth.ts'
import { MAX_DOWNLOAD_ATTEMPTS, registryError, request, type Descriptor, type Session } from '../../lib/registry.ts'

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
  parseDigest(descriptor.digest)
  const what = `blob ${descriptor.digest}`
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0)
    throw new Error(`${what}: the manifest gives it no valid size (${JSON.stringify(descriptor.size)}), so its download could not be bounded`)
  const path = `/v2/${session.repository}/blobs/${descriptor.digest}`
  /** whether the last answer refused a token the token server had just given */
  let renewed = false

  // One source for the whole blob, however many requests it takes: writeBlob hashes and stores
  // every byte once, so a new request asks only for what is not stored yet (moby's
  // layerDescriptor.Download resumes its temporary file the same way).
  async function* resumed(): AsyncGenerator<Uint8Array> {
    let stored = 0
    /** the hash of the bytes stored so far, to hold a resent start against */
    const storedHash = createHash('sha256')
    for (let attempt = 1; ; attempt++) {
      // the session's token, as it is now: another download of the pull may have renewed it
      const auth: Record<string, string> = session.token ? { Authorization: `Bearer ${session.token}` } : {}
      const headers = stored > 0 ? { ...auth, Range: `bytes=${stored}-` } : auth
      let skip = 0
      /** the hash of what this answer resends, while it resends bytes already stored */
      let resent: Hash | undefined
      try {
        const response = await request(session, path, { signal, headers })
        // a token refused as invalid (expired, as tokens do within minutes) is renewed once; refused again, it is the verdict
        // (containerd's invalidAuthorization in core/remotes/docker/authorizer.go)
        const challenge = response.status === 401 ? response.headers.get('www-authenticate') : null
        const refused = challenge ? parseChallenge(challenge) : undefined
        if (refused?.scheme === 'bearer' && refused.params.error && !renewed) {
          await response.body?.cancel()
          session.token = await fetchToken(refused, pullScope(session.repository)).catch((error: Error) => {
            throw Object.assign(error, { final: true })
          })
          renewed = true
          attempt--
          continue
        }
        renewed = false
        // a refusal (4xx) stays a refusal however often it is asked; a server's failure (5xx) may pass (moby's retryOnError)
        if (!response.ok || !response.body) throw Object.assign(await registryError(response, what), { final: response.status < 500 })
        if (stored > 0 && response.status !== 206) {
          // the whole blob again (a registry or proxy that ignores Range): its first bytes are stored already
          skip = stored
          resent = createHash('sha256')
        } else if (stored > 0) {
          const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1]
          if (Number(start) !== stored) throw new Error(`${what}: asked for the bytes from ${stored} on, the registry answered ${JSON.stringify(response.headers.get('content-range'))}`)
        }
        // Node's web streams are async iterables; the DOM typings do not say so
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          const part = skip >= chunk.length ? undefined : chunk.subarray(skip)
          resent?.update(part ? chunk.subarray(0, skip) : chunk)
          skip = Math.max(0, skip - chunk.length)
          // the resent start must be the bytes stored: a mirror that sends others sends another blob,
          // and the digest check would refuse it only once the whole of it had come
          if (resent && skip === 0) {
            if (resent.digest('hex') !== storedHash.copy().digest('hex'))
              throw Object.assign(new Error(`${what}: the registry sent its first ${stored} bytes again, and they differ from those already stored: not the blob asked for`), { final: true })
            resent = undefined
          }
          if (!part) continue
          stored += part.length
          storedHash.update(part)
          yield part
        }
        if (skip > 0) throw new Error(`${what}: the registry's whole answer was shorter than the ${stored} bytes already stored`)
        return
      } catch (error) {
        // a cancel, or an answer that will not change by asking again (401, 404, 429): no new request
        if (signal?.aborted || (error as { final?: boolean }).final) throw error
        if (attempt >= MAX_DOWNLOAD_ATTEMPTS)
          throw new Error(`${what}: download failed after ${attempt} attempts, ${stored} of ${descriptor.size} bytes stored: ${(error as Error).message}`, { cause: error })
      }
    }
  }
  await writeBlob(dir, exactly(resumed(), descriptor.size, what), descriptor.digest, onData)
}
// #endregion downloadBlob
