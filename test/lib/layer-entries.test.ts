/** The given reading of aufs names (lib/layer-entries.ts) that chapter 06's applyLayer() uses. */
import { posix } from 'node:path'
import { describe, expect, it } from 'vitest'
import { UnsafeLayerError } from '../../lib/errors.ts'
import { aufsMarker } from '../../lib/layer-entries.ts'
import { caught } from '../support/errors.ts'

/** A marker with its name normalised: "./bin" and "bin" are the same tar name. */
function normalised(name: string) {
  const m = aufsMarker(name)
  if (m?.kind === 'opaque') return { ...m, dir: posix.normalize(m.dir || '.') }
  return m && { ...m, path: posix.normalize(m.path) }
}

describe('aufsMarker', () => {
  it('usr/share/.wh..wh..opq, .wh..wh..opq, etc/.wh.motd and .wh.bin', () => {
    expect(normalised('usr/share/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'usr/share' })
    expect(normalised('.wh..wh..opq'), 'a marker at the top makes the layer root opaque').toEqual({ kind: 'opaque', dir: '.' })
    expect(normalised('etc/.wh.motd')).toEqual({ kind: 'whiteout', path: 'etc/motd' })
    expect(normalised('.wh.bin'), 'a top-level whiteout').toEqual({ kind: 'whiteout', path: 'bin' })
  })

  it('etc/motd, etc/not.wh.motd and var/', () => {
    expect(aufsMarker('etc/motd')).toBeUndefined()
    expect(aufsMarker('etc/not.wh.motd'), 'etc/not.wh.motd: where in a name does the OCI spec look for ".wh."? (layer.md, "Whiteouts")').toBeUndefined()
    expect(aufsMarker('var/')).toBeUndefined()
  })

  it('whiteouts etc/.wh..., etc/.wh.. and etc/.wh.', async () => {
    for (const name of ['etc/.wh...', 'etc/.wh..', 'etc/.wh.']) {
      const error = await caught(() => aufsMarker(name))
      expect(error, `"${name}" names no file of its directory: refuse it (did path.join swallow the ".."?)`).toBeInstanceOf(UnsafeLayerError)
    }
  })
})

