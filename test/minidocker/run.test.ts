/**
 * `minidocker run` refusals that involve no chapter's code: flags checked by the command itself,
 * and rootfs tarballs, which GNU tar unpacks. Each refusal is one line and leaves nothing behind.
 */
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { tempDir } from '../support/files.ts'
import { describeKernel } from '../support/kernel.ts'
import { minidocker, tarOf } from '../support/images.ts'

describeKernel('minidocker run refuses', () => {
  for (const user of ['4294967296:4294967296', '4294967296', '0:4294967295']) {
    it(`refuses run -u ${user} rather than run as root`, async () => {
      const rootfs = tempDir()
      const { code, stderr } = await minidocker(tempDir(), ['run', '-u', user, rootfs, '/probe', 'id'])
      expect(code, 'a uid or gid past 2^32-2 wraps to 0 in setuid()').toBe(125)
      expect(stderr).toMatch(/must be in range 0-4294967294/)
    })
  }

  it('leaves no temp dir behind when a rootfs tarball is refused', async () => {
    const tmp = tempDir()
    const tarball = join(tempDir(), 'evil.tar')
    writeFileSync(tarball, await tarOf([{ name: '../escape', content: 'x' }, { name: 'evil', type: 'symlink', linkname: tmp }, { name: 'evil/pwn', content: 'y' }]))
    const { code, stderr } = await minidocker(tempDir(), ['run', tarball, '/probe'], { TMPDIR: tmp })
    expect(code).toBe(125)
    expect(stderr.trim().split('\n'), `one line naming the tarball and the entries: ${stderr}`).toHaveLength(1)
    expect(stderr).toMatch(/refusing rootfs tarball .*evil\.tar.*'\.\.'/)
    expect(readdirSync(tmp).filter((n) => n.startsWith('minidocker-rootfs-')), 'the minidocker-rootfs-XXXX dir must be removed').toEqual([])
  })
})
