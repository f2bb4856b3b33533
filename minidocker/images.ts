/**
 * The image store from the command line (`images`, `rmi`, `inspect`, `load`), and `run` of
 * a stored image: chapter 06 finds it and its layers, chapter 05 stacks them with the
 * container's own two layers, and the union is mounted on the host as the container's rootfs.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, lstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { layerPaths, overlayDirs, removeLayer } from '#ch/05-layers/driver.ts'
import { mountOverlay, unmountOverlay } from '#ch/05-layers/overlay.ts'
import type { ImageConfig } from '../lib/image.ts'
import { applyImageConfig } from '../lib/image-config.ts'
import { shortId } from '#ch/06-images/ids.ts'
import { loadImages } from '#ch/06-images/load.ts'
import { DEFAULT_ROOT, holdLayers, imageConfig, imageLayers, resolveImage, storePaths, allImageIds, allTags, tagsOf } from '#ch/06-images/store.ts'
import { removeImage } from '../lib/image-removal.ts'
import { ContainerError } from '../lib/errors.ts'
import { forgetContainer, recordContainer } from '../lib/image.ts'
import { secureJoin } from '#ch/03-rootfs/securejoin.ts'
import { DEFAULT_PATH, type Spec } from '../lib/oci.ts'
import { Helper } from '../native/helper.ts'
import { required } from './layers.ts'

export const IMAGES_USAGE = `  images                               list the images in the store
  rmi [-f] IMAGE [IMAGE...]            untag, and remove images no tag names any more
                                       (-f: even one a running container uses)
  inspect IMAGE                        an image's config and layers, as JSON
  load -i FILE|DIR                     load an OCI image layout or a docker save archive`

/** One row of `docker images`. */
export interface ImageSummary {
  repository: string
  tag: string
  id: string
  created?: string
  /** bytes of all layers, uncompressed */
  size: number
}

/**
 * A name as Docker shows it: `docker.io/library/demo:v1`, `library/demo:v1` and `demo:v1` are
 * one name (`demo:v1`), and a name without tag or digest means `:latest`. An image ID, or what
 * may be the start of one, is left as it is.
 */
export function familiar(ref: string): string {
  if (/^(sha256:)?[a-f0-9]+$/.test(ref)) return ref
  let name = ref.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '')
  name = name.replace(/^library\/(?=[^/]+$)/, '')
  return /@|:[^/]*$/.test(name) ? name : `${name}:latest`
}

/** The stored tag `ref` means, however it is spelled (the store may hold either spelling). */
export function storedName(root: string, ref: string): string {
  const wanted = familiar(ref)
  return allTags(root).find(([tag]) => familiar(tag) === wanted)?.[0] ?? ref
}

/** `docker images`: one row per tag, plus untagged images as <none>. */
export function listImages(root: string): ImageSummary[] {
  const row = (repository: string, tag: string, id: string): ImageSummary => ({
    repository, tag, id,
    created: imageConfig(root, id).created,
    size: imageLayers(root, id).reduce((sum, l) => sum + l.size, 0),
  })
  // a name pulled by digest has no tag: Docker shows its repository and <none>
  const split = (ref: string): [string, string] => ref.includes('@')
    ? [ref.slice(0, ref.indexOf('@')), '<none>']
    : [ref.slice(0, ref.lastIndexOf(':')), ref.slice(ref.lastIndexOf(':') + 1)]
  const rows = allTags(root).map(([ref, id]) => row(...split(familiar(ref)), id))
  const tagged = new Set(allTags(root).map(([, id]) => id))
  return [...rows, ...allImageIds(root).filter((id) => !tagged.has(id)).map((id) => row('<none>', '<none>', id))]
}

/** `docker image inspect`, the fields the store has. */
export function inspectImage(root: string, ref: string) {
  const id = resolveImage(root, storedName(root, ref))
  const config = imageConfig(root, id)
  const layers = imageLayers(root, id)
  const top = layers.at(-1)
  const graph = storePaths(root).graph
  return {
    Id: id,
    RepoTags: tagsOf(root, id),
    Created: config.created,
    Author: config.author ?? '',
    Config: config.config ?? {},
    Architecture: config.architecture,
    Os: config.os,
    Size: layers.reduce((sum, l) => sum + l.size, 0),
    GraphDriver: {
      Name: 'overlay2',
      Data: top && {
        UpperDir: layerPaths(graph, top.cacheId).diff,
        LowerDir: top.parent ? overlayDirs(graph, top.cacheId).lower.join(':') : undefined,
      },
    },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
  }
}

const humanSize = (bytes: number): string =>
  bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)}GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)}MB` : bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)}kB` : `${bytes}B`

/** `images`, `rmi`, `inspect` and `load`; undefined when `command` is none of them. */
export async function imageCommand(command: string, args: string[]): Promise<number | undefined> {
  const root = DEFAULT_ROOT
  switch (command) {
    case 'images': {
      const rows = await required(() => listImages(root), 'images')
      const table = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
        ...rows.map((r) => [r.repository, r.tag, shortId(r.id), r.created ?? '', humanSize(r.size)])]
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)))
      for (const row of table) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('   ').trimEnd())
      return 0
    }
    case 'rmi': {
      const force = args.some((a) => a === '-f' || a === '--force')
      const refs = args.filter((a) => a !== '-f' && a !== '--force')
      if (refs.length === 0) throw new ContainerError('"rmi" requires at least one image', 125)
      for (const ref of refs) {
        for (const step of await required(() => removeImage(root, storedName(root, ref), force), 'rmi')) {
          console.log('Untagged' in step ? `Untagged: ${step.Untagged}` : `Deleted: ${step.Deleted}`)
        }
      }
      return 0
    }
    case 'inspect':
      if (args.length === 0) throw new ContainerError('"inspect" requires at least one image', 125)
      console.log(JSON.stringify(await required(() => args.map((ref) => inspectImage(root, ref)), 'inspect'), null, 4))
      return 0
    case 'load': {
      const path = args[0] === '-i' || args[0] === '--input' ? args[1] : args[0]
      if (!path) throw new ContainerError('usage: minidocker load -i FILE|DIR (an OCI image layout or a docker save archive)', 125)
      for (const { id, tags } of await required(() => loadImages(root, path), 'load')) {
        if (tags.length === 0) console.log(`Loaded image ID: ${id}`)
        for (const tag of tags) console.log(`Loaded image: ${tag}`)
      }
      return 0
    }
    default:
      return undefined
  }
}

/** A stored image mounted as a container's rootfs. */
export interface StoredRootfs {
  rootfs: string
  config: ImageConfig
  release(): Promise<void>
}

/**
 * If `ref` names an image in the store, give the container its -init and rw layers on top of
 * the image's, mount the union on the host, and return it with the image's config; release()
 * unmounts it and removes the container's layers. Undefined when the store has no such image.
 */
export async function storedRootfs(ref: string, hostname?: string): Promise<StoredRootfs | undefined> {
  const root = DEFAULT_ROOT
  if (!existsSync(storePaths(root).imagedb)) return undefined // nothing was ever stored
  let id: string
  try {
    id = resolveImage(root, storedName(root, ref))
  } catch (error) {
    if ((error as Error).name === 'NoSuchImageError') return undefined
    throw error
  }
  const layers = imageLayers(root, id)
  const top = layers.at(-1)
  if (!top) throw new ContainerError(`image ${ref} has no layers to run`, 125)
  const graph = storePaths(root).graph
  const container = randomBytes(32).toString('hex')
  const hostResolvConf = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : undefined
  let release = (): string[] => [] // until the hold is made, there is nothing to let go of
  const remove = () => {
    [container, `${container}-init`].forEach((layer) => removeLayer(graph, layer))
    forgetContainer(root, container)
    release() // what the image's rmi -f left for this container to let go of
  }
  const merged = layerPaths(graph, container).merged
  const inHelper = async (step: (helper: Helper) => Promise<void>) => {
    const helper = Helper.start({ stdout: 'ignore', stderr: 'ignore' })
    try {
      await step(helper)
    } finally {
      helper.close()
      await helper.exited
    }
  }
  try {
    recordContainer(root, container, id)
    release = holdLayers(root, container, top.chainId)
    const dirs = await required(() => createContainerLayers(graph, container, top.cacheId, { hostname: hostname ?? container.slice(0, 12), hostResolvConf }), `run ${ref}`)
    await inHelper((helper) => mountOverlay(helper, dirs, merged))
  } catch (error) {
    remove()
    throw error
  }
  return {
    rootfs: merged,
    config: imageConfig(root, id),
    async release() {
      await inHelper((helper) => unmountOverlay(helper, merged))
      remove()
    },
  }
}

/** A regular file of the container's rootfs, its symlinks resolved inside the rootfs, or undefined. */
function rootfsFile(rootfs: string, path: string): string | undefined {
  const file = secureJoin(rootfs, path, true)
  return lstatSync(file, { throwIfNoEntry: false })?.isFile() ? readFileSync(file, 'utf8') : undefined
}

/**
 * Merge the image's Env, Cmd, Entrypoint, WorkingDir and User into `spec` under the run flags
 * (the command, -e as buildEnv() resolved them into spec.process.env, -w, -u), as dockerd does.
 */
export async function withImageConfig(spec: Spec, config: ImageConfig, flags: { command: string[]; env: string[]; workdir?: string; user?: string }, rootfs: string): Promise<Spec> {
  // Docker's default PATH gives way to the image's PATH; a PATH the run asked for does not
  const setsPath = flags.env.some((f) => f === 'PATH' || f.startsWith('PATH='))
  const env = setsPath ? spec.process.env : spec.process.env.filter((e) => e !== DEFAULT_PATH)
  const files = { passwd: rootfsFile(rootfs, 'etc/passwd'), group: rootfsFile(rootfs, 'etc/group') }
  return required(() => applyImageConfig(spec, config, { command: flags.command, env, workdir: flags.workdir, user: flags.user }, files), 'run of a stored image')
}
