/**
 * Running an image from the store the way `minidocker run IMAGE` does: the image's top layer
 * under a container layer pair (05), mounted as overlay inside the container's own mount
 * namespace, the process from the image config (06), namespaces (02) and pivot_root (03).
 */
import { randomBytes } from 'node:crypto'
import { enterNamespaces } from '#ch/02-namespaces/namespaces.ts'
import { makeMountsPrivate } from '#ch/03-rootfs/rootfs.ts'
import { layerPaths, removeLayer } from '#ch/05-layers/driver.ts'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { mountOverlay } from '#ch/05-layers/overlay.ts'
import { applyImageConfig } from '../../lib/image-config.ts'
import { imageConfig, imageLayers, resolveImage, storePaths } from '#ch/06-images/store.ts'
import { baseSpec, DEFAULT_MOUNTS, type NamespaceType } from '../../lib/oci.ts'
import { setupRootfs } from '../../lib/rootfs-setup.ts'
import { runCaptured, type Run } from '../support/container.ts'
import { onCleanup } from '../support/files.ts'

/** Run image `name` from the store at `root` with `command` (or its own Cmd), output captured. */
export async function runImage(root: string, name: string, command?: string[]): Promise<Run> {
  const id = resolveImage(root, name)
  const top = imageLayers(root, id).at(-1)!
  const graph = storePaths(root).graph
  const container = randomBytes(12).toString('hex')
  const dirs = createContainerLayers(graph, container, top.cacheId, { hostname: container.slice(0, 12) })
  onCleanup(() => {
    removeLayer(graph, container)
    removeLayer(graph, `${container}-init`)
  })
  const merged = layerPaths(graph, container).merged
  const spec = applyImageConfig(baseSpec([]), imageConfig(root, id), { command })
  spec.hostname = container.slice(0, 12)
  spec.linux = { namespaces: (['pid', 'ipc', 'uts', 'mount'] as NamespaceType[]).map((type) => ({ type })) }
  spec.root = { path: merged }
  spec.mounts = DEFAULT_MOUNTS
  return runCaptured(spec, async (helper) => {
    await enterNamespaces(helper, spec)
    // private first: the overlay must not propagate to the host's mount table
    await makeMountsPrivate(helper)
    await mountOverlay(helper, dirs, merged)
    await setupRootfs(helper, spec)
  })
}
