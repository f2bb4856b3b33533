/**
 * A real registry for tests and benchmarks: Debian's docker-registry (distribution 2.8) on a
 * free loopback port with its storage in a temp dir, optionally behind a token server of our
 * own that answers the Bearer flow as Docker Hub's auth service does. Images are pushed over
 * the Registry HTTP API itself (upload, PUT blob, PUT manifest).
 *
 * Nothing here imports vitest: the bench starts registries too. Call stop() when done.
 * Run directly (`npx tsx test/support/registry.ts [--token]`) it serves the probe image as
 * "probe" (and "library/probe") until Ctrl-C, to pull from by hand.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomUUID, sign } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildImage, probeEntries, type Blob, type TestImage } from './images.ts'

export const REGISTRY_BINARY = '/usr/bin/docker-registry'
/** The `service` the registry names in its challenge, and the token's audience. */
export const TOKEN_SERVICE = 'minidocker-test-registry'
const TOKEN_ISSUER = 'minidocker-test-token-server'

/** One request the token server answered: what a client asked for, and what it got. */
export interface TokenRequest {
  service: string | null
  scope: string | null
  granted: boolean
}

export interface TokenServer {
  realm: string
  /** every request, in order */
  requests: TokenRequest[]
  /** a signed token for `access`, as the server would issue it, valid for `lifetime` seconds from now (negative: expired that long ago) */
  token(access: Access[], lifetime?: number): string
  stop(): Promise<void>
}

interface Access {
  type: string
  name: string
  actions: string[]
}

export interface Registry {
  /** "127.0.0.1:PORT": the domain part of an image reference */
  host: string
  /** "http://127.0.0.1:PORT" */
  url: string
  /** the registry's storage root (docker/registry/v2/... below it) */
  storage: string
  tokens?: TokenServer
  /** Authorization headers for a request on `repo` (empty without token auth) */
  headers(repo: string, actions?: string[]): Record<string, string>
  stop(): Promise<void>
}

/** A free TCP (or UDP) port on 127.0.0.1 (asked of the kernel, then released). */
export async function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (kind === 'udp') {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    const { port } = socket.address()
    await new Promise<void>((resolve) => socket.close(resolve))
    return port
  }
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url')

/**
 * A token server like Docker Hub's: GET /token?service=S&scope=repository:NAME:pull answers
 * {"token": JWT}. It grants every scope except on repositories under "private/", for which it
 * issues a token with no access (as the Hub does for an anonymous client), so the registry
 * then refuses it. The JWT is ES256, signed with a key whose self-signed certificate rides in
 * the header (x5c) and sits in the registry's rootcertbundle.
 */
export async function startTokenServer(dir: string): Promise<TokenServer & { certificate: string }> {
  const key = join(dir, 'token.key')
  const certificate = join(dir, 'token.crt')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', certificate, '-days', '2', '-subj', `/CN=${TOKEN_ISSUER}`], { stdio: 'ignore' })
  const privateKey = readFileSync(key)
  const der = readFileSync(certificate, 'utf8').replace(/-----[^-]+-----|\s/g, '')
  const token = (access: Access[], lifetime = 300) => {
    // an expired token was issued before it expired
    const now = Math.floor(Date.now() / 1000) + Math.min(0, lifetime - 300)
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [der] }))
    const claims = base64url(JSON.stringify({
      iss: TOKEN_ISSUER, sub: '', aud: TOKEN_SERVICE, exp: now + Math.max(lifetime, 300), nbf: now - 10, iat: now, jti: randomUUID(), access,
    }))
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: privateKey, dsaEncoding: 'ieee-p1363' })
    return `${header}.${claims}.${base64url(signature)}`
  }
  const requests: TokenRequest[] = []
  const server = createHttpServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://token')
    if (url.pathname !== '/token') return void res.writeHead(404).end()
    const scope = url.searchParams.get('scope')
    const access: Access[] = []
    for (const s of scope ? scope.split(' ') : []) {
      const [type, name, actions] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1, s.lastIndexOf(':')), s.slice(s.lastIndexOf(':') + 1)]
      if (!name.startsWith('private/')) access.push({ type, name, actions: actions.split(',') })
    }
    requests.push({ service: url.searchParams.get('service'), scope, granted: access.length > 0 })
    const body = token(access)
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: body, access_token: body, expires_in: 300 }))
  })
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    token,
    certificate,
    stop: () => closeServer(server),
  }
}

const closeServer = (server: Server) => new Promise<void>((resolve) => {
  server.closeAllConnections()
  server.close(() => resolve())
})

async function waitUntilServing(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${log()}`)
    try {
      await fetch(`${url}/v2/`)
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`docker-registry did not answer on ${url} within 20 s:\n${log()}`)
}

/** Start docker-registry on a free loopback port; with `auth: 'token'`, behind startTokenServer(). */
export async function startRegistry(options: { auth?: 'token' } = {}): Promise<Registry> {
  if (!existsSync(REGISTRY_BINARY)) throw new Error(`${REGISTRY_BINARY} is missing: apt-get install docker-registry (vm/provision.sh does)`)
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-registry-'))
  let child: ChildProcess | undefined
  let tokens: (TokenServer & { certificate: string }) | undefined
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    await tokens?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const port = await freePort()
    const storage = join(dir, 'storage')
    tokens = options.auth === 'token' ? await startTokenServer(dir) : undefined
    const auth = tokens
      ? `auth:\n  token:\n    realm: ${tokens.realm}\n    service: ${TOKEN_SERVICE}\n    issuer: ${TOKEN_ISSUER}\n    rootcertbundle: ${tokens.certificate}\n`
      : ''
    writeFileSync(join(dir, 'config.yml'), [
      'version: 0.1',
      'log:\n  level: error\n  accesslog:\n    disabled: true',
      `storage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true`,
      `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomUUID()}`,
      auth,
    ].join('\n'))
    let log = ''
    child = spawn(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (d: Buffer) => (log += d))
    child.stderr!.on('data', (d: Buffer) => (log += d))
    const url = `http://127.0.0.1:${port}`
    await waitUntilServing(url, child, () => log)
    const t = tokens
    return {
      host: `127.0.0.1:${port}`,
      url,
      storage,
      tokens: t,
      headers: (repo, actions = ['pull', 'push']): Record<string, string> =>
        t ? { Authorization: `Bearer ${t.token([{ type: 'repository', name: repo, actions }])}` } : {},
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

async function check(response: Response, what: string, ok: number[]): Promise<Response> {
  if (!ok.includes(response.status)) throw new Error(`${what}: ${response.status} ${await response.text()}`)
  return response
}

/** Upload one blob unless the repository has it: POST an upload, then PUT it whole with its digest. */
export async function pushBlob(registry: Registry, repo: string, blob: { data: Buffer; digest: string }): Promise<void> {
  const headers = registry.headers(repo)
  const head = await fetch(`${registry.url}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD', headers })
  if (head.status === 200) return
  const start = await check(await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers }), `POST upload for ${repo}`, [202])
  const location = new URL(start.headers.get('location')!, registry.url)
  location.searchParams.set('digest', blob.digest)
  await check(await fetch(location, {
    method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(blob.data),
  }), `PUT blob ${blob.digest}`, [201])
}

/** PUT a manifest (or index) under a tag or its digest. */
export async function pushManifest(registry: Registry, repo: string, reference: string, manifest: Blob): Promise<void> {
  await check(await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT', headers: { ...registry.headers(repo), 'Content-Type': manifest.mediaType }, body: new Uint8Array(manifest.data),
  }), `PUT manifest ${repo}:${reference}`, [201])
}

/** Push an image: its layers and config, then its manifest under `tag`. */
export async function pushImage(registry: Registry, repo: string, tag: string, image: TestImage): Promise<void> {
  for (const blob of [...image.layers, image.config]) await pushBlob(registry, repo, blob)
  await pushManifest(registry, repo, tag, image.manifest)
}

/** Push an index or manifest list: each image by its digest, then the index under `tag`. */
export async function pushIndex(registry: Registry, repo: string, tag: string, index: Blob, images: TestImage[]): Promise<void> {
  for (const image of images) await pushImage(registry, repo, image.manifest.digest, image)
  await pushManifest(registry, repo, tag, index)
}

/**
 * Where the registry keeps blob `digest` on disk. Overwriting it makes the registry serve
 * bytes that no longer match their digest, as a broken mirror or a tampering proxy would.
 */
export function storedBlobPath(registry: Registry, digest: string): string {
  const hex = digest.slice('sha256:'.length)
  return join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')
}

// no top-level await: the workbook command bundles this module as CommonJS
async function main(): Promise<void> {
  const registry = await startRegistry(process.argv.includes('--token') ? { auth: 'token' } : {})
  const probe = await buildImage([probeEntries()])
  for (const repo of ['probe', 'library/probe']) await pushImage(registry, repo, 'latest', probe)
  console.log(`registry on ${registry.url}${registry.tokens ? ` (tokens from ${registry.tokens.realm})` : ''}: pull ${registry.host}/probe; Ctrl-C stops it`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void registry.stop().then(() => process.exit(0)))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main()
