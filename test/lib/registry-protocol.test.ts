import { describe, expect, it } from 'vitest'
import { canRun, normalizePlatform } from '../../lib/platform.ts'
import { BAR_WIDTH, progressBar } from '../../lib/pull-progress.ts'
import { familiarName, InvalidReferenceError, parseReference, referenceString } from '../../lib/reference.ts'
import { parseChallenge } from '../../lib/registry-auth.ts'
import { endpointFor, exactly } from '../../lib/registry-client.ts'
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
    ['busybox', 'docker.io/library/busybox:latest', `which parts does \`docker pull busybox\` fill in? (${SECTION})`],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', `which part of "busybox:1.36" is a tag? (${SECTION})`],
    ['someone/tool', 'docker.io/someone/tool:latest', `is "someone" a registry, or a user on the Hub? (splitDockerDomain; ${SECTION})`],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', `which registry is "index.docker.io", and what is it called in a normalised name? (normalize.go; ${SECTION})`],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', `which defaults does a one-component path on docker.io get? (${SECTION})`],
    ['localhost/probe', 'localhost/probe:latest', `is "localhost" a registry, or a user on the Hub? (splitDockerDomain; ${SECTION})`],
    ['registry.example/team/app', 'registry.example/team/app:latest', `is "registry.example" a registry, or a user on the Hub? (splitDockerDomain; ${SECTION})`],
    ['127.0.0.1:5000/probe', '127.0.0.1:5000/probe:latest', `which ":" can start a tag, when a registry has a port? (${SECTION})`],
    ['127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', '127.0.0.1:5000/a/b-c__d.e:v1.0-rc_1', `which separators may a path component hold, and which characters a tag? (reference.ts's header; ${SECTION})`],
    ['registry.example:443/team/app', 'registry.example:443/team/app:latest', `which ":" can start a tag, when a registry has a port? (${SECTION})`],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`, `which defaults does a name with a digest get, and which not? (ParseNormalizedNamed; ${SECTION})`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox:1.36@${DIGEST}`, `a tag and a digest: which of the two does the full form keep? (${SECTION})`],
  ]
  for (const [input, expected, why] of normalised) {
    it(`"${input}"`, () => {
      expect(referenceString(parsed(input, why)), `"${input}" parsed into another reference than Docker's: ${why}`).toBe(expected)
    })
  }

  it('a reference with every part, and one with a digest only', () => {
    expect(parsed(`127.0.0.1:5000/a/b:v2@${DIGEST}`, `a reference with every part: registry and port, a two-component path, a tag and a digest (${SECTION})`), 'expected every part in its field of the Reference').toEqual({ domain: '127.0.0.1:5000', path: 'a/b', tag: 'v2', digest: DIGEST })
    expect(parseReference(`busybox@${DIGEST}`), `"busybox@sha256:...": which fields does its Reference have? (${SECTION})`).toEqual({ domain: 'docker.io', path: 'library/busybox', digest: DIGEST })
  })

  it('first components someone, localhost:5000, localhost, registry.example and Registry', () => {
    /** The domain of `input`, and the question to ask when it is not `domain`. */
    const domainOf = (input: string, domain: string) => {
      const why = `where does "${input}" live: is its first component a registry, or a user on the Hub? (splitDockerDomain in normalize.go; ${SECTION})`
      expect(parsed(input, why).domain, why).toBe(domain)
    }
    domainOf('someone/tool', 'docker.io')
    domainOf('localhost:5000/x', 'localhost:5000')
    domainOf('localhost/x', 'localhost')
    domainOf('registry.example/x', 'registry.example')
    domainOf('Registry/x', 'Registry')
  })

  it('a name of 237 characters with :latest, then one of 238', async () => {
    const longest = 'a'.repeat(255 - 'docker.io/library/'.length)
    expect(referenceString(parsed(`${longest}:latest`, `a name of 237 characters and a tag (237 and 7 as typed) was refused: which string does distribution measure? (ParseNormalizedNamed and the Parse it calls; ${SECTION})`))).toBe(`docker.io/library/${longest}:latest`)
    const error = await caught(() => parseReference(`${longest}a`))
    expect(error, `"${longest.slice(0, 8)}..." (238 characters as typed) was accepted: which string does distribution measure? (ParseNormalizedNamed and the Parse it calls; ${SECTION})`).toBeInstanceOf(InvalidReferenceError)
    expect(error.message, 'expected distribution\'s reason (parseReference\'s doc comment)').toContain('not be more than 255')
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
    it(`"${input.length > 40 ? `${input.slice(0, 40)}...` : input}"`, async () => {
      const error = await caught(() => parseReference(input))
      expect(error, `"${input}" was accepted; expected InvalidReferenceError. Which part breaks the grammar? (reference.ts's header; ${SECTION})`).toBeInstanceOf(InvalidReferenceError)
      expect(error.message, 'expected the message to start as Docker\'s does').toMatch(/^invalid reference format/)
      expect(error.message, `expected distribution's reason for "${input}" (parseReference's doc comment lists them)`).toContain(reason)
    })
  }
})

describe('familiarName', () => {
  it('five names, as `docker images` shows them', () => {
    const familiar = (input: string, expected: string) =>
      expect(familiarName(parseReference(input)), `"${input}" as \`docker images\` shows it: which defaults go again, and when? (distribution's FamiliarName)`).toBe(expected)
    familiar('busybox', 'busybox:latest')
    familiar('docker.io/someone/tool:1', 'someone/tool:1')
    familiar('docker.io/library/a/b', 'library/a/b:latest')
    familiar('127.0.0.1:5000/probe', '127.0.0.1:5000/probe:latest')
    familiar(`busybox@${DIGEST}`, `busybox@${DIGEST}`)
  })
})

describe('parseChallenge', () => {
  it('reads the Hub\'s Bearer challenge', () => {
    const c = parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:library/busybox:pull"')
    expect(c, 'expected the scheme lower-cased and every parameter unquoted (the Challenge type)').toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:library/busybox:pull' },
    })
  })

  it('a challenge with a quoted comma, a bare value, escaped quotes and a capital', () => {
    const c = parseChallenge('bearer Realm="http://t/token", scope="repository:a:pull,push",error=insufficient_scope, note="say \\"hi\\""')
    expect(c.params.realm, 'the parameter written "Realm": how does RFC 7235 compare parameter names? (the Challenge type)').toBe('http://t/token')
    expect(c.params.scope, 'scope="repository:a:pull,push": where does a quoted value end? (RFC 7235; authchallenge.go)').toBe('repository:a:pull,push')
    expect(c.params.error, 'error=insufficient_scope, a value without quotes (RFC 7235; authchallenge.go)').toBe('insufficient_scope')
    expect(c.params.note, 'note="say \\"hi\\"": what does a backslash do in a quoted value? (RFC 7235; authchallenge.go)').toBe('say "hi"')
  })

  it('reads a Basic challenge', () => {
    expect(parseChallenge('Basic realm="Registry Realm"'), 'Basic realm="Registry Realm" (RFC 7235)').toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } })
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
    it(`"${domain}"`, () => {
      expect(endpointFor(domain), `"${domain}" is ${what}: which URL is its API at? (${SECTION})`).toBe(expected)
    })
  }

  it('"docker.io", the Hub', () => {
    expect(endpointFor('docker.io'), `"docker.io" is a name in references: where does the Hub's API live? (lib/registry.ts; ${SECTION})`).toMatch(/^https:\/\/registry-1\.docker\.io$/)
  })
})

describe('platforms', () => {
  const why = 'normalizePlatform\'s doc comment; containerd\'s platforms.Normalize'
  it('Linux/x86_64, linux/aarch64, linux/arm/v7, linux/arm, linux/armhf and linux/amd64/v1', () => {
    expect(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }), `Linux/x86_64 (${why})`).toEqual({ os: 'linux', architecture: 'amd64' })
    expect(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), `linux/aarch64, no variant (${why})`).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' })
    expect(normalizePlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), `linux/arm/v7 (${why})`).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' })
    expect(normalizePlatform({ os: 'linux', architecture: 'arm' }), `linux/arm, no variant (${why})`).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' })
    expect(normalizePlatform({ os: 'linux', architecture: 'armhf' }), `linux/armhf (${why})`).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' })
    expect(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), `linux/amd64/v1 (${why})`).toEqual({ os: 'linux', architecture: 'amd64' })
  })

  it('what linux/amd64/v3, linux/amd64, linux/arm and linux/arm64 run', () => {
    const platform = (text: string) => {
      const [os, architecture, variant] = text.split('/')
      return { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) }
    }
    const runs = (machine: string) => ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64', 'linux/386', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm64/v8', 'linux/s390x'].filter((p) => canRun(platform(machine), platform(p))).sort()
    const why = 'canRun\'s doc comment; containerd\'s platforms.Only and platformVector'
    expect(runs('linux/amd64/v3'), `linux/amd64/v3 (${why})`).toEqual(['linux/386', 'linux/amd64', 'linux/amd64/v2', 'linux/amd64/v3'])
    expect(runs('linux/x86_64'), `linux/x86_64 (${why})`).toEqual(['linux/386', 'linux/amd64'])
    expect(runs('linux/arm'), `linux/arm (${why})`).toEqual(['linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7'])
    expect(runs('linux/arm64'), `linux/arm64 (${why})`).toEqual(['linux/arm64/v8'])
    expect(canRun(platform('linux/amd64'), platform('linux/x86_64')), `linux/amd64 runs x86_64, however spelled (${why})`).toBe(true)
  })
})

describe('progressBar', () => {
  it('draws moby\'s bar as docker pull shows it for a layer under way', () => {
    expect(progressBar(7746, 772788), 'what docker pull shows at 7.746kB of a 772.8kB layer (moby\'s JSONProgress.String(); sizes by humanSize)').toBe(`[>${' '.repeat(BAR_WIDTH)}]  7.746kB/772.8kB`)
    expect(progressBar(386394, 772788), 'half way through the same layer (JSONProgress.String())').toBe(`[${'='.repeat(25)}>${' '.repeat(25)}]  386.4kB/772.8kB`)
    expect(progressBar(772788, 772788), 'the same layer done: a full bar (JSONProgress.String())').toBe(`[${'='.repeat(50)}>]  772.8kB/772.8kB`)
    expect(progressBar(2_500_000, 12_345_678), 'at 20.25 %: how does JSONProgress.String() round?').toBe(`[${'='.repeat(10)}>${' '.repeat(40)}]    2.5MB/12.35MB`)
  })

  it('no total, a count past the total, and neither', () => {
    expect(progressBar(512, undefined), '512 bytes and no total: what does JSONProgress.String() draw without one?').toBe('    512B')
    expect(progressBar(2000, 1000), '2000 bytes of 1000: what does moby\'s JSONProgress.String() draw past the total?').toBe(`[${'='.repeat(50)}>]      2kB`)
    expect(progressBar(0, 0), 'no size and no total: what does JSONProgress.String() draw then?').toBe('')
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

  it('a body of 3 and 4 bytes, promised as 7', async () => {
    expect(await drain(exactly(chunks(3, 4), 7, 'blob x')), 'expected every byte of a body of the promised size passed through').toBe(7)
  })

  it('a blob of 4096 bytes whose source never stops', async () => {
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
    expect(error?.message, `a 4096-byte blob whose registry never stops sending ${error ? 'ended in an error that does not name the blob' : 'ended without an error'}; expected an error naming it (see "Downloading, verified while streaming")`).toContain('blob x')
    expect(pulled, `a 4096-byte blob came in 1024-byte chunks without end, and exactly() pulled ${pulled} of them from its source (see "Downloading, verified while streaming")`).toBeLessThanOrEqual(5)
    expect(passed, `a 4096-byte blob let ${passed} bytes through to the store (see "Downloading, verified while streaming")`).toBeLessThanOrEqual(4096)
  })

  it('a body of 3 bytes, promised as 7', async () => {
    const error = await caught(() => drain(exactly(chunks(3), 7, 'blob x')))
    expect(error?.message, 'expected an error naming the blob and both sizes (exactly()\'s TODO)').toMatch(/blob x.*3.*7/)
  })
})
