/**
 * The string work given to chapter 03 (lib/volumes.ts): docker's -v flag as a spec.mounts
 * entry, and an entry's fstab-style options as mount(2)'s flags, data and propagation.
 */
import { describe, expect, it } from 'vitest'
import { ContainerError } from '../../lib/errors.ts'
import { mountOptions, parseVolume } from '../../lib/volumes.ts'
import { caught } from '../support/errors.ts'

describe('parseVolume', () => {
  it('flag -v /srv/data:/data', () => {
    expect(parseVolume('/srv/data:/data')).toEqual({ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] })
  })

  it('flags -v /a:/b:ro and -v /a:/b:rw', () => {
    expect(parseVolume('/a:/b:ro').options, '-v /a:/b:ro: which options make the mount read-only? (the chapter\'s "The mounts of the spec")').toEqual(['rbind', 'ro'])
    expect(parseVolume('/a:/b:rw').options, '-v /a:/b:rw').toEqual(['rbind'])
  })

  it('a -v with a relative path, an unknown mode, a part missing or one too many', async () => {
    for (const bad of ['data:/data', '/data:data', '/a:/b:rx', '/a', '/a:/b:ro:x', ':/b'])
      expect(await caught(() => parseVolume(bad)), `-v ${bad} got no ContainerError: what does docker run answer to it? (moby's volume/mounts/linux_parser.go; the chapter's "The mounts of the spec")`).toBeInstanceOf(ContainerError)
  })
})

describe('mountOptions', () => {
  it('nosuid, ro, mode=755, size=65536k, nodev', () => {
    const { flags, data } = mountOptions(['nosuid', 'ro', 'mode=755', 'size=65536k', 'nodev'])
    expect([...flags].sort(), 'the flags, sorted').toEqual(['nodev', 'nosuid', 'rdonly'])
    expect(data, 'the data string: which options does the kernel read for every filesystem, and which only the filesystem\'s driver? (mount(2), "data")').toBe('mode=755,size=65536k')
  })

  it('rbind and rw; no options at all', () => {
    expect([...mountOptions(['rbind', 'rw']).flags].sort(), 'the flags for rbind and rw, sorted').toEqual(['bind', 'rec'])
    expect(mountOptions([]), 'no options').toEqual({ flags: [], data: '', propagation: [] })
  })

  it('bind, rshared, nosuid; private, mode=755', () => {
    const { flags, data, propagation } = mountOptions(['bind', 'rshared', 'nosuid'])
    expect([...flags].sort(), 'the flags of the call that makes the mount: what does mount(2) do when a propagation type comes with them? (mount(2), "Changing the propagation type of an existing mount")').toEqual(['bind', 'nosuid'])
    expect([...propagation].sort(), 'the propagation flags for rshared (runc: PropagationFlags)').toEqual(['rec', 'shared'])
    expect(data, 'the data string').toBe('')
    expect(mountOptions(['private', 'mode=755']).propagation, 'the propagation flags for private, mode=755').toEqual(['private'])
  })
})

describe('parseVolume and ".."', () => {
  for (const flag of ['/src:/a/../../x', '/src:/..', '/src:/etc/..:ro', '/src:/a/../b']) {
    it(`flag -v ${flag}`, async () => {
      const error = await caught(() => parseVolume(flag))
      expect(error, `-v ${flag} got no ContainerError: what does docker run answer to it? (moby's volume/mounts/linux_parser.go; the chapter's "The mounts of the spec")`).toBeInstanceOf(ContainerError)
      expect(error.message, 'the message must say what is wrong with the container path').toMatch(/\.\./)
      expect(error.message, 'the message must quote the flag').toContain(flag)
    })
  }

  it('flag -v /src:/a..b/.x', () => {
    expect(parseVolume('/src:/a..b/.x').destination, 'the destination of -v /src:/a..b/.x').toBe('/a..b/.x')
  })
})
