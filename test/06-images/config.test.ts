import { describe, expect, it } from 'vitest'
import { applyImageConfig, resolveUser, type ImageConfig } from '#ch/06-images/config.ts'
import { ContainerError } from '../../lib/errors.ts'
import { baseSpec, DEFAULT_PATH } from '../../lib/oci.ts'
import { caught } from '../support/errors.ts'

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n'
const GROUP = 'root:x:0:\napp:x:1001:\naudio:x:29:app,other\nvideo:x:44:other\n'

const image = (config: ImageConfig['config']): ImageConfig => ({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } })

describe('applyImageConfig', () => {
  it('runs Entrypoint followed by Cmd, in the image\'s WorkingDir, with its Env', () => {
    const spec = applyImageConfig(baseSpec([]), image({ Entrypoint: ['/probe'], Cmd: ['hostname'], WorkingDir: '/srv', Env: ['PATH=/opt/bin', 'A=1'] }))
    expect(spec.process.args, 'args = Entrypoint + Cmd').toEqual(['/probe', 'hostname'])
    expect(spec.process.cwd).toBe('/srv')
    expect(spec.process.env, 'the image\'s PATH replaces the default one').toEqual(['PATH=/opt/bin', 'A=1'])
    expect(spec.process.user, 'no User: root').toEqual({ uid: 0, gid: 0 })
  })

  it('lets the run command replace Cmd but keep Entrypoint, and --entrypoint drop Cmd', () => {
    const img = image({ Entrypoint: ['/probe'], Cmd: ['hostname'] })
    expect(applyImageConfig(baseSpec([]), img, { command: ['pid'] }).process.args, 'docker run IMAGE pid: the command replaces Cmd').toEqual(['/probe', 'pid'])
    expect(applyImageConfig(baseSpec([]), img, { entrypoint: ['/bin/sh'] }).process.args, '--entrypoint resets Cmd').toEqual(['/bin/sh'])
  })

  it('adds -e flags over the image\'s Env by key, and Docker\'s PATH when neither sets one', () => {
    const spec = applyImageConfig(baseSpec([]), image({ Cmd: ['x'], Env: ['A=image', 'B=image'] }), { env: ['B=flag', 'C=flag'] })
    expect(spec.process.env, '-e B=flag replaces the image\'s B (one entry per key, in the image\'s order), and PATH comes first').toEqual([DEFAULT_PATH, 'A=image', 'B=flag', 'C=flag'])
  })

  it('prefers -w and -u over WorkingDir and User', () => {
    const spec = applyImageConfig(baseSpec([]), image({ Cmd: ['x'], WorkingDir: '/srv', User: 'app' }), { workdir: '/tmp', user: '0' }, { passwd: PASSWD, group: GROUP })
    expect(spec.process.cwd).toBe('/tmp')
    expect(spec.process.user).toEqual({ uid: 0, gid: 0 })
  })

  it('refuses an image with nothing to run', async () => {
    const error = await caught(() => applyImageConfig(baseSpec([]), image({ Env: ['A=1'] })))
    expect(error, 'no Cmd, no Entrypoint, no command: a ContainerError with exit code 125').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
  })
})

describe('resolveUser', () => {
  it('looks a user name up in the image\'s /etc/passwd, with its primary and supplementary groups', () => {
    expect(resolveUser('app', { passwd: PASSWD, group: GROUP }), 'app is 1000:1001 and a member of audio (29)').toEqual({ uid: 1000, gid: 1001, additionalGids: [29] })
  })

  it('takes numbers as they are, and a group after ":" by name or number', () => {
    expect(resolveUser('4242', { passwd: PASSWD }), 'an unknown numeric uid is fine, with gid 0').toEqual({ uid: 4242, gid: 0 })
    expect(resolveUser('app:video', { passwd: PASSWD, group: GROUP }).gid).toBe(44)
    expect(resolveUser('1000:7', { passwd: PASSWD, group: GROUP }).gid).toBe(7)
  })

  it('refuses a user or group name the image does not know', async () => {
    for (const user of ['ghost', 'app:ghosts']) {
      const error = await caught(() => resolveUser(user, { passwd: PASSWD, group: GROUP }))
      expect(error, `"${user}": a ContainerError naming the missing name`).toBeInstanceOf(ContainerError)
      expect(error.message).toContain('ghost')
    }
  })
})
