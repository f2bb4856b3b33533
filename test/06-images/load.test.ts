import { readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DigestMismatchError } from '#ch/06-images/cas.ts'
import { loadImages } from '#ch/06-images/load.ts'
import { allLayers, imageConfig, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { UnsafeLayerError } from '#ch/06-images/unpack.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { probeLines } from '../support/probe.ts'
import {
  buildImage, buildIndex, minidocker, probeEntries, tarFolder, tarOf, writeDockerSave, writeOciLayout, type Entry,
} from '../support/images.ts'

const APP: Entry[] = [{ name: 'srv/' }, { name: 'srv/motd', content: 'from the app layer\n' }]
const HOST_ARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch

describe('load an OCI image layout', () => {
  it('an OCI layout with one image named example.com/app:1.0', async () => {
    const root = tempDir()
    const layout = tempDir()
    const image = await buildImage([[{ name: 'etc/' }, { name: 'etc/os-release', content: 'oci\n' }], APP])
    writeOciLayout(layout, [{ image, name: 'example.com/app:1.0' }])
    expect(await loadImages(root, layout)).toEqual([{ id: image.id, tags: ['example.com/app:1.0'] }])
    expect(resolveImage(root, 'example.com/app:1.0')).toBe(image.id)
    expect(allLayers(root).length, 'both layers are in the layer store').toBe(2)
  })

  it('an index that lists s390x first, then this machine\'s platform', async () => {
    const root = tempDir()
    const layout = tempDir()
    const mine = await buildImage([APP], { architecture: HOST_ARCH })
    const other = await buildImage([[{ name: 'wrong' }]], { architecture: 's390x' })
    writeOciLayout(layout, [{ image: mine }, { image: other }])
    const index = buildIndex([{ image: other, os: 'linux', architecture: 's390x' }, { image: mine, os: 'linux', architecture: HOST_ARCH }])
    writeFileSync(join(layout, 'blobs', 'sha256', index.digest.slice(7)), index.data)
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: index.mediaType, digest: index.digest, size: index.size }] }))
    const loaded = await loadImages(root, layout)
    expect(loaded.map((l) => l.id), `the index lists s390x first: linux/${HOST_ARCH} must be chosen`).toEqual([mine.id])
    expect(imageConfig(root, mine.id).architecture).toBe(HOST_ARCH)
  })

  it('a layer blob whose bytes were tampered with', async () => {
    const root = tempDir()
    const layout = tempDir()
    const image = await buildImage([APP])
    writeOciLayout(layout, [{ image }])
    writeFileSync(join(layout, 'blobs', 'sha256', image.layers[0]!.digest.slice(7)), 'tampered')
    expect(await caught(() => loadImages(root, layout)), 'a layer blob must be checked against its digest').toBeInstanceOf(DigestMismatchError)
    expect(allLayers(root), 'nothing may be stored').toEqual([])
  })
})

describe('load a docker save archive', () => {
  it('a packed archive with two RepoTags and a truncated layer tar', async () => {
    const root = tempDir()
    const folder = tempDir()
    const truncated = await tarOf(APP, { trailer: false })
    const image = await buildImage([], { tars: [await tarOf([{ name: 'etc/' }]), truncated] })
    writeDockerSave(folder, [{ image, tags: ['saved:latest', 'saved:v1'] }])
    const archive = join(tempDir(), 'saved.tar')
    writeFileSync(archive, await tarFolder(folder))
    expect(await loadImages(root, archive)).toEqual([{ id: image.id, tags: ['saved:latest', 'saved:v1'] }])
    const top = allLayers(root).find((l) => l.diffId === image.layers[1]!.diffId)!
    expect(readFileSync(join(storePaths(root).graph, top.cacheId, 'diff/srv/motd'), 'utf8'), 'a layer tar without end-of-archive blocks still applies').toBe('from the app layer\n')
    expect(readdirSync(root).filter((n) => n.startsWith('load-')), 'the unpacked archive is removed').toEqual([])
  })

  it('a manifest.json whose Layers lead outside the archive', async () => {
    const root = tempDir()
    const folder = tempDir()
    const image = await buildImage([APP])
    writeDockerSave(folder, [{ image, tags: ['evil'] }])
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'))
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify([{ ...manifest[0], Layers: ['../../etc/passwd'] }]))
    expect(await caught(() => loadImages(root, folder)), '"../" in a manifest path must be refused like a tar entry').toBeInstanceOf(UnsafeLayerError)
    symlinkSync('/etc/passwd', join(folder, 'leak.tar'))
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify([{ ...manifest[0], Layers: ['leak.tar'] }]))
    const error = await caught(() => loadImages(root, folder))
    expect(error, 'a layer file that is a symlink to the host\'s files must be refused').toBeInstanceOf(UnsafeLayerError)
    expect(error.message).toContain('leak.tar')
    expect(allLayers(root)).toEqual([])
  })
})

describeKernel('minidocker load, then run', () => {
  it('load, images, run twice, run -u, inspect and rmi', async () => {
    const root = tempDir()
    const folder = tempDir()
    const image = await buildImage([probeEntries(), APP], {
      config: { Entrypoint: ['/probe'], Cmd: ['cwd', 'env', 'cat:/etc/hostname', 'cat:/srv/motd', 'write:/srv/motd:changed'], WorkingDir: '/srv', Env: ['PATH=/bin', 'GREETING=hello'] },
    })
    writeOciLayout(folder, [{ image, name: 'probe-app:1' }])
    const load = await minidocker(root, ['load', '-i', folder])
    expect(load.code, `minidocker load failed: ${load.stderr}`).toBe(0)
    expect(load.stdout).toContain('Loaded image: probe-app:1')
    const images = await minidocker(root, ['images'])
    expect(images.stdout, '`minidocker images` lists the loaded tag').toMatch(new RegExp(`probe-app\\s+1\\s+${image.id.slice(7, 19)}`))

    for (const round of [1, 2]) {
      const run = await minidocker(root, ['run', 'probe-app:1'])
      expect(run.code, `run ${round} failed: ${run.stderr}`).toBe(0)
      const lines = probeLines(run.stdout)
      expect(lines[0], 'WorkingDir of the image config').toEqual({ cwd: '/srv' })
      expect(lines[1]!.env, 'Env of the image config').toEqual(['PATH=/bin', 'GREETING=hello'])
      expect(lines[2]!.cat, '/etc/hostname comes from the container\'s -init layer').toMatch(/^[0-9a-f]{12}\n$/)
      expect(lines[3]!.cat, `run ${round} must see the image's file, not a write of an earlier container`).toBe('from the app layer\n')
    }
    const asUser = await minidocker(root, ['run', '-u', '1000:1001', 'probe-app:1', 'id'])
    const id = probeLines(asUser.stdout)[0] as { uid: number; gid: number; groups: number[] }
    expect(id, `-u 1000:1001 must run the process as uid 1000, gid 1001 (${asUser.stderr})`).toMatchObject({ uid: 1000, gid: 1001 })
    expect(id.groups, '-u 1000:1001: the process kept root\'s supplementary group 0').not.toContain(0)
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    expect(mounts, 'the container\'s overlay must be unmounted after the run').not.toContain(root)
    const layers = allLayers(root).map((l) => l.cacheId).sort()
    expect(readdirSync(storePaths(root).graph).filter((n) => n !== 'l').sort(), 'the containers\' own layers must be removed after the run').toEqual(layers)
    const inspect = await minidocker(root, ['inspect', 'probe-app:1'])
    const [details] = JSON.parse(inspect.stdout)
    expect(details, '`minidocker inspect` shows the ID, the tags and the diff IDs').toMatchObject({
      Id: image.id, RepoTags: ['probe-app:1'], RootFS: { Type: 'layers', Layers: image.layers.map((l) => l.diffId) },
    })
    const rmi = await minidocker(root, ['rmi', 'probe-app:1'])
    expect(rmi.stdout).toContain(`Deleted: ${image.id}`)
    expect(allLayers(root), 'rmi of the only image removes its layers').toEqual([])
  }, 90_000) // seven minidocker commands, each a fresh node
})
