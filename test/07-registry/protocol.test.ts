import { describe, expect, it } from 'vitest'
import { parseChallenge } from '#ch/07-registry/auth.ts'
import { endpointFor } from '#ch/07-registry/client.ts'
import { exactly } from '#ch/07-registry/download.ts'
import { normalizePlatform, selectManifest } from '#ch/07-registry/platform.ts'
import { BAR_WIDTH, progressBar } from '#ch/07-registry/progress.ts'
import { familiarName, InvalidReferenceError, parseReference, referenceString } from '#ch/07-registry/reference.ts'
import type { ImageIndex } from '../../lib/registry.ts'
import { NotImplementedError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'

const DIGEST = `sha256:${'ab'.repeat(32)}`

describe('parseReference', () => {
  /** parseReference(input), or a failure that says why `input` is a valid reference. */
  const parsed = (input: string, why: string) => {
    try {
      return parseReference(input)
    } catch (error) {
      if (error instanceof NotImplementedError) throw error
      return expect.fail(`"${input}" is a valid reference but parseReference threw "${(error as Error).message}": ${why}`)
    }
  }
  const normalised: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'a name alone is an official image on docker.io, tagged latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'the ":" after the last "/" starts the tag'],
    ['someone/tool', 'docker.io/someone/tool:latest', '"someone" has no "." or ":" and is not localhost: a Hub user, not a registry'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'index.docker.io is the Hub\'s old name, rewritten to docker.io'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', 'an official image named with docker.io still goes under library/'],
    ['localhost/probe', 'localhost/probe:latest', '"localhost" is a registry host even without a "." or a ":"'],
    ['registry.example/team/app', 'registry.example/team/app:latest', 'a "." makes the first component a registry host, not part of the path'],
    ['127.0.0.1:5000/probe', '127.0.0.1:5000/probe:latest', 'a ":" before the last "/" is the registry\'s port, not a tag'],
    ['127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', '127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', 'a port, a nested path with separators, and a tag: only the ":" after the last "/" starts the tag'],
    ['registry.example:443/team/app', 'registry.example:443/team/app:latest', 'a ":" before the last "/" is the registry\'s port, not a tag'],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, 'a digest alone gets no "latest" tag'],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, 'the "@digest" is split off first, then the tag'],
  ]
  for (const [input, expected, why] of normalised) {
    it(`normalises "${input}" to ${expected}`, () => {
      expect(referenceString(parsed(input, why)), why).toBe(expected)
    })
  }

  it('splits domain, repository path, tag and digest', () => {
    expect(parsed(`127.0.0.1:5000/a/b:v2@${DIGEST}`, 'the digest after "@", the tag after the last ":" past the last "/", the port before it'), 'every part in its field: domain with port, path, tag, digest').toEqual({ domain: '127.0.0.1:5000', path: 'a/b', tag: 'v2', digest: DIGEST })
    expect(parseReference(`busybox@${DIGEST}`), 'a digest alone gets no "latest" tag').toEqual({ domain: 'docker.io', path: 'library/busybox', digest: DIGEST })
  })

  it('takes a first component as a registry only when it has "." or ":", is localhost, or has upper case', () => {
    expect(parseReference('someone/tool').domain, '"someone" is a Hub user, not a host').toBe('docker.io')
    expect(parsed('localhost:5000/x', 'a ":" before the last "/" is a port').domain, 'a ":" (a port) makes it a host').toBe('localhost:5000')
    expect(parsed('localhost/x', '"localhost" is a host name').domain, '"localhost" is a host even without a "." or a ":"').toBe('localhost')
    expect(parsed('registry.example/x', 'a "." makes a host name').domain, 'a "." makes it a host').toBe('registry.example')
    expect(parsed('Registry/x', 'an upper-case first component is a host name').domain, 'an upper-case first component can only be a host name').toBe('Registry')
  })

  const invalid: [string, string][] = [
    ['', 'at least one component'],
    ['Busybox', 'must be lowercase'],
    ['busybox:', 'invalid tag'],
    ['busybox:-bad', 'invalid tag'],
    [`busybox:${'a'.repeat(129)}`, 'invalid tag'],
    ['busybox@sha256:abc', 'invalid digest'],
    ['busybox@md5:' + 'a'.repeat(32), 'invalid digest'],
    ['http://example/busybox', 'invalid'],
    ['a//b', 'invalid repository name'],
    ['-leading/x', 'invalid'],
    ['my_registry:5000/x', 'invalid registry'],
    ['a'.repeat(64), '64-byte hexadecimal'],
    [`example.com/${'a/'.repeat(130)}b`, 'not be more than 255'],
  ]
  for (const [input, reason] of invalid) {
    it(`refuses "${input.length > 40 ? `${input.slice(0, 40)}...` : input}" (${reason})`, async () => {
      const error = await caught(() => parseReference(input))
      expect(error, `"${input}" is not a valid reference and must throw InvalidReferenceError`).toBeInstanceOf(InvalidReferenceError)
      expect(error.message, 'the message starts as Docker\'s does and says what is wrong').toMatch(/^invalid reference format/)
      expect(error.message, 'the message must name what is wrong').toContain(reason)
    })
  }
})

describe('familiarName', () => {
  it('drops docker.io and library/ again, as `docker images` shows names', () => {
    expect(familiarName(parseReference('busybox')), 'docker.io/library/ is dropped for an official image').toBe('busybox:latest')
    expect(familiarName(parseReference('docker.io/someone/tool:1')), 'docker.io/ is dropped for a Hub user\'s image').toBe('someone/tool:1')
    expect(familiarName(parseReference('docker.io/library/a/b')), 'library/ is dropped only before a single component').toBe('library/a/b:latest')
    expect(familiarName(parseReference('127.0.0.1:5000/probe')), 'another registry keeps its domain').toBe('127.0.0.1:5000/probe:latest')
    expect(familiarName(parseReference(`busybox@${DIGEST}`)), 'a digest is kept, and no tag added').toBe(`busybox@${DIGEST}`)
  })
})

describe('parseChallenge', () => {
  it('reads the Hub\'s Bearer challenge', () => {
    const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:library/busybox:pull"')
    expect(c, 'the scheme lower-cased, every parameter unquoted').toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:library/busybox:pull' },
    })
  })

  it('keeps commas inside quoted values, takes unquoted values and escapes', () => {
    const c = parseChallenge('bearer Realm="http://t/token", scope="repository:a:pull,push",error=insufficient_scope, note="say \\"hi\\""')
    expect(c.params.realm, 'parameter names are case-insensitive').toBe('http://t/token')
    expect(c.params.scope, 'a comma inside quotes belongs to the value').toBe('repository:a:pull,push')
    expect(c.params.error, 'a value may be an unquoted token').toBe('insufficient_scope')
    expect(c.params.note, 'a backslash escapes the next character').toBe('say "hi"')
  })

  it('reads a Basic challenge', () => {
    expect(parseChallenge('Basic realm="Registry Realm"'), 'a quoted value keeps its spaces').toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } })
  })
})

describe('endpointFor', () => {
  it('sends docker.io to the Hub\'s API host, loopback registries to plain HTTP, the rest to HTTPS', () => {
    expect(endpointFor('docker.io'), '"docker.io" names the Hub, whose API is on another host').toMatch(/^https:\/\/registry-1\.docker\.io$/)
    expect(endpointFor('127.0.0.1:5000'), 'loopback: plain HTTP, the port kept').toBe('http://127.0.0.1:5000')
    expect(endpointFor('127.3.2.1:80'), 'all of 127.0.0.0/8 is loopback').toBe('http://127.3.2.1:80')
    expect(endpointFor('localhost:5000'), 'localhost is loopback').toBe('http://localhost:5000')
    expect(endpointFor('registry.example:5000'), 'anything not on loopback must use TLS').toBe('https://registry.example:5000')
    expect(endpointFor('127.0.0.1.example'), 'a host name that merely starts with 127 is not loopback').toBe('https://127.0.0.1.example')
  })
})

describe('platforms', () => {
  const entry = (digest: string, platform?: { os: string; architecture: string; variant?: string }) =>
    ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${digest.repeat(64)}`, size: 1, ...(platform ? { platform } : {}) })
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      entry('0', { os: 'unknown', architecture: 'unknown' }),
      entry('1', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry('2', { os: 'linux', architecture: 'arm', variant: 'v7' }),
      entry('3', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry('4', { os: 'linux', architecture: 'amd64' }),
      entry('5', { os: 'windows', architecture: 'amd64' }),
    ],
  }

  it('normalises architecture names and arm64\'s default variant', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'x86_64' })).toEqual({ os: 'linux', architecture: 'amd64' })
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), 'arm64 without a variant is v8').toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' })
    expect(normalizePlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' })
  })

  it('picks the entry for the wanted os, architecture and variant', () => {
    expect(selectManifest(index, { os: 'linux', architecture: 'amd64' }).digest, 'linux/amd64 is entry 4: os and architecture must both match, so not the first entry nor the windows one').toBe(index.manifests[4]!.digest)
    expect(selectManifest(index, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest, 'linux/arm/v7 is entry 2, not linux/arm/v6: when the wanted platform names a variant, the variant must match too').toBe(index.manifests[2]!.digest)
    expect(selectManifest(index, { os: 'linux', architecture: 'aarch64' }).digest, 'aarch64 means arm64/v8').toBe(index.manifests[3]!.digest)
  })

  it('says which platform is missing and what the index has', async () => {
    const error = await caught(() => selectManifest(index, { os: 'linux', architecture: 's390x' }))
    expect(error?.message, 'Docker\'s words, then the platforms on offer').toContain('no matching manifest for linux/s390x in the manifest list entries')
    expect(error.message, 'the platforms the index has, as os/arch/variant').toContain('linux/arm/v7')
  })
})

describe('progressBar', () => {
  it('draws moby\'s bar: one "=" per 2 %, a ">", padding to the full width, then current/total', () => {
    expect(progressBar(7746, 772788)).toBe(`[>${' '.repeat(BAR_WIDTH)}]  7.746kB/772.8kB`)
    expect(progressBar(386394, 772788), 'half way is 25 "="').toBe(`[${'='.repeat(25)}>${' '.repeat(25)}]  386.4kB/772.8kB`)
    expect(progressBar(772788, 772788), 'done is a full bar').toBe(`[${'='.repeat(50)}>]  772.8kB/772.8kB`)
    expect(progressBar(2_500_000, 12_345_678)).toBe(`[${'='.repeat(10)}>${' '.repeat(40)}]    2.5MB/12.35MB`)
  })

  it('shows only the size when there is no total, or the count runs past it', () => {
    expect(progressBar(512, undefined)).toBe('    512B')
    expect(progressBar(2000, 1000), 'a wonky total is dropped, the bar stays full').toBe(`[${'='.repeat(50)}>]      2kB`)
    expect(progressBar(0, 0)).toBe('')
  })
})

describe('exactly', () => {
  async function* chunks(...sizes: number[]) {
    for (const n of sizes) yield new Uint8Array(n)
  }
  const drain = async (source: AsyncIterable<Uint8Array>) => {
    let n = 0
    for await (const chunk of source) n += chunk.length
    return n
  }

  it('passes a body of the promised size through', async () => {
    expect(await drain(exactly(chunks(3, 4), 7, 'blob x'))).toBe(7)
  })

  it('stops a body that grows past the promised size as soon as it does', async () => {
    let pulled = 0
    async function* endless() {
      for (;;) {
        pulled++
        yield new Uint8Array(1024)
      }
    }
    const error = await caught(() => drain(exactly(endless(), 4096, 'blob x')))
    expect(error?.message, 'a registry sending too much must be cut off, naming the blob').toContain('blob x')
    expect(pulled, 'reading must stop at the first chunk past the size').toBe(5)
  })

  it('says so when the body ends early', async () => {
    const error = await caught(() => drain(exactly(chunks(3), 7, 'blob x')))
    expect(error?.message, 'a short body names the blob and both sizes').toMatch(/blob x.*3.*7/)
  })
})
