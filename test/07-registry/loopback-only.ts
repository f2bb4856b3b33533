/**
 * The tests' registries, token servers and misbehaving links all listen on 127.0.0.1. A pull
 * whose code loses the reference's registry ("127.0.0.1:5000/probe" read as a name on the
 * Hub) would otherwise go out to the internet; with this, any request to another host fails at
 * once and names the URL.
 */
import { afterAll, beforeAll } from 'vitest'

/** Where every server these tests start listens. */
const TEST_HOST = '127.0.0.1'

/** For the tests of this file: fetch() refuses every URL whose host is not TEST_HOST. */
export function loopbackOnly(): void {
  const original = globalThis.fetch
  beforeAll(() => {
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      if (url.hostname === TEST_HOST) return original(input, init)
      return Promise.reject(new Error(`the test refused a request to ${url.href}: its registries are all on ${TEST_HOST}, so the reference's registry was lost on the way (did parseReference keep the domain?)`))
    }
  })
  afterAll(() => {
    globalThis.fetch = original
  })
}
