/**
 * optional() skips a step whose chapter is not written yet, and only then: a NotImplementedError
 * of a later chapter, thrown from a callback the step was handed (chapter 03's setupRootfs runs
 * chapter 09's beforePivot), goes on up, naming the function still to write.
 */
import { describe, expect, it } from 'vitest'
import { NotImplementedError } from '../../lib/errors.ts'
import { optional, sendNotesTo } from '../../minidocker/layers.ts'

describe('optional()', () => {
  const notes: string[] = []
  sendNotesTo((line) => notes.push(line))

  it('skips the step when its own chapter, or one below it, is a starter', async () => {
    expect(await optional('03-rootfs', () => { throw new NotImplementedError('03-rootfs', 'setupRootfs') }, 'running in the host\'s root filesystem')).toBeUndefined()
    expect(await optional('04-cgroups', () => { throw new NotImplementedError('02-namespaces', 'enterNamespaces') }, 'running outside its cgroup')).toBeUndefined()
    expect(notes).toEqual(['chapter 03-rootfs is not done yet, so running in the host\'s root filesystem', 'chapter 02-namespaces is not done yet, so running outside its cgroup'])
  })

  it('lets a later chapter\'s NotImplementedError through, from a callback inside the step', async () => {
    const step = () => { throw new NotImplementedError('09-runtime', 'mountCgroups') }
    await expect(optional('03-rootfs', step, 'running in the host\'s root filesystem')).rejects.toThrow(/mountCgroups\(\) is not written yet/)
  })
})
