/**
 * The Registry HTTP API's types and plumbing, shared by chapter 07's starter and reference
 * (and by the daemon later): media types, descriptors, manifests, error answers, a fetch()
 * that names the URL it failed on, and a pull's options and result. The protocol's decisions
 * are chapter 07's.
 */
import type { ProgressSink } from './jsonmessage.ts'
import type { Platform } from './platform.ts'

/** The manifest media types a pull understands. */
export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const

/** An index or manifest list: one manifest per platform. */
export const INDEX_TYPES: string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]
/** An image manifest: a config and layers. */
export const IMAGE_TYPES: string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]

/** The most bytes a manifest may have (containerd's limit): it is read into memory whole. */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024

/** Where the Hub's API really lives: "docker.io" is a name, not a host. useRegistryMirror() replaces it. */
export let DOCKER_HUB_ENDPOINT = 'https://registry-1.docker.io'

/**
 * dockerd's --registry-mirror: from now on, pulls of docker.io images go to `url` (as
 * "http://127.0.0.1:5000"). dockerd falls back to the Hub when its mirrors fail; this does not.
 */
export function useRegistryMirror(url: string): void {
  DOCKER_HUB_ENDPOINT = url.replace(/\/+$/, '')
}

/** A pointer to content: what a manifest says about each config, layer or child manifest. */
export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { os: string; architecture: string; variant?: string }
  urls?: string[]
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType?: string
  config: Descriptor
  layers: Descriptor[]
}

export interface ImageIndex {
  schemaVersion: 2
  mediaType?: string
  manifests: Descriptor[]
}

/** A manifest as fetched: its bytes, what they are, and the digest they were checked against. */
export interface FetchedManifest {
  mediaType: string
  digest: string
  body: Buffer
}

/** One repository on one registry, and the token (if any) the registry's token server gave for it. */
export interface Session {
  /** "https://registry-1.docker.io", "http://127.0.0.1:5000" */
  endpoint: string
  /** "library/busybox" */
  repository: string
  token?: string
}

/** An error answer from the registry, with the code from its JSON body ("MANIFEST_UNKNOWN"). */
export class RegistryError extends Error {
  override name = 'RegistryError'
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message)
  }
}

/** The RegistryError for a failed response: `what` failed, with the registry's own words. */
export async function registryError(response: Response, what: string): Promise<RegistryError> {
  const text = await response.text().catch(() => '')
  let detail = `${response.status} ${response.statusText}`
  let code: string | undefined
  try {
    const first = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0]
    if (first) {
      code = first.code
      detail = `${first.message ?? first.code} (${first.code}, ${response.status})`
    }
  } catch {
    // not JSON: keep the status line
  }
  return new RegistryError(`${what}: ${detail}`, response.status, code)
}

/**
 * fetch() against the session's registry: `path` joined to its endpoint, and a connection that
 * fails named by its URL, as Go's client names it. The request is sent as `init` says, no more.
 */
export async function request(session: Session, path: string, init: RequestInit = {}): Promise<Response> {
  const url = `${session.endpoint}${path}`
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error
    const cause = (error as Error).cause as Error | undefined
    throw new Error(`Get "${url}": ${cause?.message ?? (error as Error).message}`)
  }
  if (!init.signal || !response.body) return response
  // Node's fetch can leave a body it has received to the end neither closed nor errored when
  // the signal aborts just then, and a read of it would wait for ever: a pipe that follows the
  // signal ends the body with the signal's reason.
  const body = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), { signal: init.signal })
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

// ---------- a pull's options and result ----------

/** dockerd's default --max-concurrent-downloads. */
export const MAX_CONCURRENT_DOWNLOADS = 3

/** dockerd's default --max-download-attempts. */
export const MAX_DOWNLOAD_ATTEMPTS = 5

/** What every layer of one pull is pulled with (chapter 07's pullLayer). */
export interface LayerSource {
  /** the image store (chapter 06) */
  root: string
  /** the registry the blobs come from */
  session: Session
  /** the image's layers, bottom first */
  layers: Descriptor[]
  /** the download slots */
  slots: DownloadLimit
}

/**
 * A limit on the downloads running at once, shared by every pull that is given it: dockerd's
 * transfer manager, one per daemon. Chapter 07's `Slots` is one.
 */
export interface DownloadLimit {
  run<T>(signal: AbortSignal, job: () => Promise<T>, onWait?: () => void): Promise<T>
}

export interface PullOptions {
  /** the image store (chapter 06) */
  root: string
  /** the image to take from an index (default: this machine's) */
  platform?: Platform
  progress?: ProgressSink
  /** the limit this pull's downloads share with other pulls (default: the process's own, MAX_CONCURRENT_DOWNLOADS) */
  slots?: DownloadLimit
  /** cancels this pull (a client that went away): only the downloads no other pull watches stop */
  signal?: AbortSignal
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
