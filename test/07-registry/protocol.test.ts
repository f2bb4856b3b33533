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
  const SECTION = 'see "A name is a reference"'
  const normalised: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', `"busybox" names no registry, no repository owner and no tag (${SECTION})`],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', `"busybox:1.36" is the image busybox with the tag 1.36 (${SECTION})`],
    ['someone/tool', 'docker.io/someone/tool:latest', `"someone/tool" is the Hub user someone's repository tool, not a registry called someone (${SECTION})`],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', `"index.docker.io" is the Hub's old name, and the Hub is called docker.io in a normalised name (${SECTION})`],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', `"docker.io/busybox" is the same official image as "busybox" (${SECTION})`],
    ['localhost/probe', 'localhost/probe:latest', `"localhost/probe" is the repository probe on the registry localhost (${SECTION})`],
    ['registry.example/team/app', 'registry.example/team/app:latest', `"registry.example/team/app" is the repository team/app on the registry registry.example (${SECTION})`],
    ['127.0.0.1:5000/probe', '127.0.0.1:5000/probe:latest', `"127.0.0.1:5000/probe" is the repository probe on the registry 127.0.0.1:5000, untagged (${SECTION})`],
    ['127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', '127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', `"127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1" is the repository a/b-c__d.e on 127.0.0.1:5000 with the tag v1.0-rc_1 (${SECTION})`],
    ['registry.example:443/team/app', 'registry.example:443/team/app:latest', `"registry.example:443/team/app" is the repository team/app on registry.example:443, untagged (${SECTION})`],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `"busybox@sha256:..." names one image by its digest, and a tag would only add a second claim (${SECTION})`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, `"busybox:1.36@sha256:..." has the tag 1.36 and a digest, and both stay (${SECTION})`],
  ]
  for (const [input, expected, why] of normalised) {
    it(`normalises "${input}" to ${expected}`, () => {
      expect(referenceString(parsed(input, why)), why).toBe(expected)
    })
  }

  it('splits domain, repository path, tag and digest', () => {
    expect(parsed(`127.0.0.1:5000/a/b:v2@${DIGEST}`, `a reference with every part: registry and port, a two-component path, a tag and a digest (${SECTION})`), 'every part in its field: domain with port, path, tag, digest').toEqual({ domain: '127.0.0.1:5000', path: 'a/b', tag: 'v2', digest: DIGEST })
    expect(parseReference(`busybox@${DIGEST}`), `"busybox@sha256:..." has a digest and no tag, and the result has no tag field (${SECTION})`).toEqual({ domain: 'docker.io', path: 'library/busybox', digest: DIGEST })
  })

  it('tells a registry in the first component from a repository on the Hub', () => {
    expect(parseReference('someone/tool').domain, `"someone/tool": someone is a Hub user, not a registry (${SECTION})`).toBe('docker.io')
    expect(parsed('localhost:5000/x', `"localhost:5000/x" is on the registry localhost:5000 (${SECTION})`).domain, `"localhost:5000/x" is on the registry localhost:5000 (${SECTION})`).toBe('localhost:5000')
    expect(parsed('localhost/x', `"localhost/x" is on the registry localhost (${SECTION})`).domain, `"localhost/x" is on the registry localhost (${SECTION})`).toBe('localhost')
    expect(parsed('registry.example/x', `"registry.example/x" is on the registry registry.example (${SECTION})`).domain, `"registry.example/x" is on the registry registry.example (${SECTION})`).toBe('registry.example')
    expect(parsed('Registry/x', `"Registry/x": a repository name has no upper case, so Registry can only be a registry (${SECTION})`).domain, `"Registry/x" is on the registry Registry (${SECTION})`).toBe('Registry')
  })

  it('measures the 255-character limit on the normalised name, without tag or digest', async () => {
    const longest = 'a'.repeat(255 - 'docker.io/library/'.length)
    expect(referenceString(parsed(`${longest}:latest`, 'docker.io/library/ and these 237 characters make exactly 255, the most distribution allows; the ":latest" is not part of the name (' + SECTION + ')'))).toBe(`docker.io/library/${longest}:latest`)
    const error = await caught(() => parseReference(`${longest}a`))
    expect(error, `"${longest.slice(0, 8)}..." is 238 characters as typed, but docker.io/library/ makes it 256: distribution measures the normalised name (${SECTION})`).toBeInstanceOf(InvalidReferenceError)
    expect(error.message, 'the message must name what is wrong').toContain('not be more than 255')
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
  const SECTION = 'see "Where the registry is, and the token flow"'
  /** [domain, the URL expected, what the domain is] */
  const cases: [string, string, string][] = [
    ['127.0.0.1:5000', 'http://127.0.0.1:5000', 'the loopback address with a port'],
    ['127.3.2.1:80', 'http://127.3.2.1:80', 'another address on the loopback interface'],
    ['localhost:5000', 'http://localhost:5000', 'this machine by name, with a port'],
    ['localhost', 'http://localhost', 'this machine by name, without a port'],
    ['[::1]:5000', 'http://[::1]:5000', 'the IPv6 loopback address with a port'],
    ['registry.example:5000', 'https://registry.example:5000', 'a registry elsewhere, with a port'],
    ['registry.example', 'https://registry.example', 'a registry elsewhere'],
    ['127.0.0.1.example', 'https://127.0.0.1.example', 'a host name under .example'],
    ['127.0.0.1.example:5000', 'https://127.0.0.1.example:5000', 'a host name under .example, with a port'],
    ['localhost.example', 'https://localhost.example', 'a host name under .example'],
    ['mylocalhost:5000', 'https://mylocalhost:5000', 'a host name that is not localhost'],
    ['10.127.0.1', 'https://10.127.0.1', 'an address on another network'],
  ]
  for (const [domain, expected, what] of cases) {
    it(`speaks to "${domain}" at ${expected}`, () => {
      expect(endpointFor(domain), `"${domain}" is ${what} (${SECTION})`).toBe(expected)
    })
  }

  it('sends docker.io to the Hub\'s API host', () => {
    expect(endpointFor('docker.io'), `"docker.io" is a name in references; the Hub's API lives on another host (${SECTION})`).toMatch(/^https:\/\/registry-1\.docker\.io$/)
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
  it('draws moby\'s bar as docker pull shows it for a layer under way', () => {
    expect(progressBar(7746, 772788), 'what docker pull shows at 7.746kB of a 772.8kB layer (moby\'s JSONProgress.String(); sizes by humanSize)').toBe(`[>${' '.repeat(BAR_WIDTH)}]  7.746kB/772.8kB`)
    expect(progressBar(386394, 772788), 'half way through the same layer: the bar keeps its width at every step (JSONProgress.String())').toBe(`[${'='.repeat(25)}>${' '.repeat(25)}]  386.4kB/772.8kB`)
    expect(progressBar(772788, 772788), 'the same layer done: a full bar (JSONProgress.String())').toBe(`[${'='.repeat(50)}>]  772.8kB/772.8kB`)
    expect(progressBar(2_500_000, 12_345_678), 'at 20.25 %: JSONProgress.String() counts whole per cent').toBe(`[${'='.repeat(10)}>${' '.repeat(40)}]    2.5MB/12.35MB`)
  })

  it('draws what moby draws without a total, past the total, and with neither', () => {
    expect(progressBar(512, undefined), 'no total: what JSONProgress.String() draws without one').toBe('    512B')
    expect(progressBar(2000, 1000), 'past the total: the bar stays, and the total goes (moby\'s JSONProgress.String())').toBe(`[${'='.repeat(50)}>]      2kB`)
    expect(progressBar(0, 0), 'no size and no total: what JSONProgress.String() draws then').toBe('')
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

  it('reads no more than one chunk past the promised size', async () => {
    let pulled = 0
    // "without end": 10 MiB, so that a pass-through that never stops still ends the test
    async function* endless() {
      for (let i = 0; i < 10_240; i++) {
        pulled++
        yield new Uint8Array(1024)
      }
    }
    let passed = 0
    const error = await caught(async () => {
      for await (const chunk of exactly(endless(), 4096, 'blob x')) passed += chunk.length
    })
    expect(error?.message, 'a 4096-byte blob whose registry never stops sending must end in an error naming the blob (see "Downloading, verified while streaming")').toContain('blob x')
    expect(pulled, `a 4096-byte blob came in 1024-byte chunks without end, and exactly() pulled ${pulled} of them from its source (see "Downloading, verified while streaming")`).toBeLessThanOrEqual(5)
    expect(passed, `a 4096-byte blob let ${passed} bytes through to the store (see "Downloading, verified while streaming")`).toBeLessThanOrEqual(4096)
  })

  it('says so when the body ends early', async () => {
    const error = await caught(() => drain(exactly(chunks(3), 7, 'blob x')))
    expect(error?.message, 'a short body names the blob and both sizes').toMatch(/blob x.*3.*7/)
  })
})
