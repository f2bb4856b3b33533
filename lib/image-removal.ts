/**
 * Given for chapter 06: `docker rmi` on the image store, which untags, deletes the image's
 * config and leaves its layers to the chapter's pruneLayers().
 */
import { rmSync } from 'node:fs'
import { pruneLayers } from '#ch/06-images/store.ts'
import { imageLayers, resolveImage, tagsOf, untagImage } from './image-store.ts'
import { blobPath, containersUsing, shortId, storePaths, withTag } from './image.ts'

/** What `docker rmi` reports, one line per step. */
export type RemoveReport = { Untagged: string } | { Deleted: string }

/**
 * `docker rmi`: untag `ref`; when no tag is left (or an ID was given), delete the image and
 * then those of its layers that no other image still uses. An image a running
 * container uses (containersUsing) is not deleted: the refusal is dockerd's conflict, naming the
 * reference, the container and the image by their short IDs and saying that it takes force (the
 * error says "conflict: unable to remove repository reference "REF" (must force) - container
 * CONTAINER is using its referenced image IMAGE", REF quoted as given, the IDs 12 characters),
 * and nothing is untagged. With `force` it is deleted all the same.
 */
export function removeImage(root: string, ref: string, force = false): RemoveReport[] {
  const id = resolveImage(root, ref)
  const named = tagsOf(root, id).includes(withTag(ref)) ? [withTag(ref)] : tagsOf(root, id)
  const users = containersUsing(root, id)
  if (users.length > 0 && named.length === tagsOf(root, id).length && !force)
    throw new Error(`conflict: unable to remove repository reference ${JSON.stringify(ref)} (must force) - container ${users[0]!.slice(0, 12)} is using its referenced image ${shortId(id)}`)
  const report: RemoveReport[] = []
  for (const tag of named) {
    untagImage(root, tag)
    report.push({ Untagged: tag })
  }
  if (tagsOf(root, id).length > 0) return report
  const layers = imageLayers(root, id)
  rmSync(blobPath(storePaths(root).imagedb, id))
  report.push({ Deleted: id })
  for (const chain of pruneLayers(root, layers)) report.push({ Deleted: chain })
  return report
}
