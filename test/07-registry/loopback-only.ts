/**
 * The tests talk to registries on loopback only. A pull whose code loses the reference's
 * registry ("127.0.0.1:5000/probe" read as a name on the Hub) would otherwise go out to the
 * internet; with this, any request off loopback fails at once and names the URL.
 */
import { afterAll, beforeAll } from 'vitest'

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/

/** For the tests of this file: fetch() refuses every URL that is not on loopback. */
export function loopbackOnly(): void {
  const original = globalThis.fetch
  beforeAll(() => {
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      if (LOOPBACK.test(url.hostname)) return original(input, init)
      return Promise.reject(new Error(`the test refused a request to ${url.href}: its registries are all on loopback, so the reference's registry was lost on the way (did parseReference keep the domain?)`))
    }
  })
  afterAll(() => {
    globalThis.fetch = original
  })
}
