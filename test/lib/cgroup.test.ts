/**
 * lib/cgroup.ts's cgroupVersion (given code, chapter 04): a cgroup2 root tells itself apart by a
 * file of its own, which a plain directory laid out like one also has, so the chapter's v2 tests
 * can run on one.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { cgroupVersion } from '../../lib/cgroup.ts'
import { tempDir } from '../support/files.ts'

describe('cgroupVersion', () => {
  it('a fake cgroup2 root, a plain directory, and a hybrid layout', () => {
    const v2 = tempDir('fake-cgroup2-')
    writeFileSync(join(v2, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n')
    writeFileSync(join(v2, 'cgroup.subtree_control'), '')
    expect(cgroupVersion(v2), 'the fake cgroup2 root').toBe(2)
    expect(cgroupVersion(tempDir()), 'a plain directory').toBe(1)
    const hybrid = tempDir('fake-hybrid-')
    for (const dir of ['memory', 'pids', 'unified']) mkdirSync(join(hybrid, dir))
    writeFileSync(join(hybrid, 'unified/cgroup.controllers'), '\n')
    expect(cgroupVersion(hybrid), 'a hybrid root: v1 hierarchies, and a cgroup2 tree at unified/ offering none').toBe(1)
  })
})
