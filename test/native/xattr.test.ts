/**
 * setxattr / getxattr: the helper's extended attributes, which chapter 05 marks overlay
 * directories with (trusted.* names, which only a privileged process may set); their byte
 * variants carry binary values such as chapter 13's security.capability.
 */
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { SyscallError } from '../../native/helper.ts'
import { describeKernel } from '../support/kernel.ts'
import { tempDir } from '../support/files.ts'
import { startHelper } from '../support/helper.ts'

const start = () => startHelper()

describeKernel('setxattr and getxattr', () => {
  it('set a trusted.* attribute and read it back', async () => {
    const dir = join(tempDir(), 'd')
    mkdirSync(dir)
    const h = start()
    await h.setxattr(dir, 'trusted.workbook.test', 'set')
    expect(await h.getxattr(dir, 'trusted.workbook.test')).toBe('set')
  })

  it('act on a symlink itself, not on what it points to', async () => {
    const root = tempDir()
    mkdirSync(join(root, 'target'))
    symlinkSync('target', join(root, 'link'))
    const h = start()
    await h.setxattr(join(root, 'link'), 'trusted.test', 'on-the-link')
    expect(await h.getxattr(join(root, 'link'), 'trusted.test')).toBe('on-the-link')
    const error = await h.getxattr(join(root, 'target'), 'trusted.test').catch((e) => e)
    expect(error, 'lsetxattr must not follow the symlink').toBeInstanceOf(SyscallError)
  })

  it('report a missing attribute as ENODATA and a missing file as ENOENT', async () => {
    const dir = tempDir()
    const h = start()
    const unset = await h.getxattr(dir, 'trusted.workbook.test').catch((e) => e)
    expect(unset).toBeInstanceOf(SyscallError)
    expect(unset).toMatchObject({ syscall: 'lgetxattr', code: 'ENODATA', path: dir })
    const missing = (await h.setxattr(join(dir, 'nope'), 'trusted.x', 'y').catch((e) => e)) as SyscallError
    expect(missing).toMatchObject({ syscall: 'lsetxattr', code: 'ENOENT' })
    expect(String(missing.message)).toBe(`lsetxattr("${join(dir, 'nope')}", "trusted.x", "y", 1, 0) failed: ENOENT (No such file or directory)`)
  })

  it('set and read back a value of any bytes, NUL and high bytes included', async () => {
    const dir = join(tempDir(), 'd')
    mkdirSync(dir)
    const h = start()
    const value = Buffer.from([0, 1, 0xff, 0x7f, 0, 0x80, 0x22, 0x5c])
    await h.setxattrBytes(dir, 'trusted.workbook.bytes', value)
    expect((await h.getxattrBytes(dir, 'trusted.workbook.bytes')).toString('hex')).toBe(value.toString('hex'))
    await h.setxattr(dir, 'trusted.workbook.text', 'a"b')
    expect((await h.getxattrBytes(dir, 'trusted.workbook.text')).toString()).toBe('a"b')
    const unset = await h.getxattrBytes(dir, 'trusted.workbook.none').catch((e) => e)
    expect(unset).toMatchObject({ syscall: 'lgetxattr', code: 'ENODATA', path: dir })
  })
})
