/** The given image config merge and user lookup (lib/image-config.ts) that `minidocker run` uses from chapter 06 on. */
import { describe, expect, it } from 'vitest'
import { applyImageConfig, resolveUser } from '../../lib/image-config.ts'
import type { ImageConfig } from '../../lib/image.ts'
import { ContainerError } from '../../lib/errors.ts'
import { baseSpec, DEFAULT_PATH } from '../../lib/oci.ts'
import { caught } from '../support/errors.ts'
import { buildImage } from '../support/images.ts'
import { describeKernel } from '../support/kernel.ts'
import { docker, loadImage } from '../support/realdocker.ts'

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n'
const GROUP = 'root:x:0:\napp:x:1001:\naudio:x:29:app,other\nvideo:x:44:other\n'

const image = (config: ImageConfig['config']): ImageConfig => ({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } })

describe('applyImageConfig', () => {
  it('an image with Entrypoint, Cmd, WorkingDir and Env, and no User', () => {
    const spec = applyImageConfig(baseSpec([]), image({ Entrypoint: ['/probe'], Cmd: ['hostname'], WorkingDir: '/srv', Env: ['PATH=/opt/bin', 'A=1'] }))
    expect(spec.process.args, 'Entrypoint ["/probe"] and Cmd ["hostname"]: what does docker run execute? (Dockerfile reference, "Understand how CMD and ENTRYPOINT interact")').toEqual(['/probe', 'hostname'])
    expect(spec.process.cwd).toBe('/srv')
    expect(spec.process.env, 'an Env that sets its own PATH: compare with docker run (chapter text, "What docker run takes from the config")').toEqual(['PATH=/opt/bin', 'A=1'])
    expect(spec.process.user, 'no User: root').toEqual({ uid: 0, gid: 0 })
  })

  it('a run command, then --entrypoint, over Entrypoint and Cmd', () => {
    const img = image({ Entrypoint: ['/probe'], Cmd: ['hostname'] })
    expect(applyImageConfig(baseSpec([]), img, { command: ['pid'] }).process.args, 'docker run IMAGE pid, on Entrypoint ["/probe"] and Cmd ["hostname"]: which of the two does the command replace?').toEqual(['/probe', 'pid'])
    expect(applyImageConfig(baseSpec([]), img, { entrypoint: ['/bin/sh'] }).process.args, '--entrypoint /bin/sh on an image with Cmd ["hostname"]: what happens to that Cmd? (docker run reference, --entrypoint)').toEqual(['/bin/sh'])
  })


  it('an image with WorkingDir and User, run with -w /tmp -u 0', () => {
    const spec = applyImageConfig(baseSpec([]), image({ Cmd: ['x'], WorkingDir: '/srv', User: 'app' }), { workdir: '/tmp', user: '0' }, { passwd: PASSWD, group: GROUP })
    expect(spec.process.cwd).toBe('/tmp')
    expect(spec.process.user).toEqual({ uid: 0, gid: 0 })
  })

  it('an image with neither Cmd nor Entrypoint, and no command', async () => {
    const error = await caught(() => applyImageConfig(baseSpec([]), image({ Env: ['A=1'] })))
    expect(error, 'no Cmd, no Entrypoint, no command: a ContainerError with exit code 125').toBeInstanceOf(ContainerError)
    expect(error.exitCode).toBe(125)
  })
})

/**
 * The environment the real dockerd gives a container created with `flags` from an image with
 * `Env`: the witness loads a one-file image, `docker create` merges, and `docker inspect` shows
 * the container's Config.Env. dockerd adds PATH (and HOSTNAME) only when it starts the process
 * (container.CreateDaemonEnvironment), so that one entry is added here as the runtime would.
 */
async function dockerdEnv(env: string[], flags: string[]): Promise<string[]> {
  await loadImage(await buildImage([[{ name: 'x', content: 'x' }]], { config: { Cmd: ['/x'], Env: env } }), 'env:test')
  const created = await docker(['create', '--network', 'none', ...flags, 'env:test'])
  if (created.code !== 0) throw new Error(`docker create failed: ${created.stderr}`)
  const id = created.stdout.trim()
  const merged = JSON.parse((await docker(['inspect', '-f', '{{json .Config.Env}}', id])).stdout) as string[]
  await docker(['rm', id])
  return merged.some((e) => e.startsWith('PATH=')) ? merged : [DEFAULT_PATH, ...merged]
}

describeKernel('applyImageConfig and the real dockerd', () => {
  it('an image with Env A and B and no PATH, run with -e B=flag -e C=flag', async () => {
    const real = await dockerdEnv(['A=image', 'B=image'], ['-e', 'B=flag', '-e', 'C=flag'])
    const spec = applyImageConfig(baseSpec([]), image({ Cmd: ['x'], Env: ['A=image', 'B=image'] }), { env: ['B=flag', 'C=flag'] })
    // compared as sets: the order of the entries is not what this test asks about
    const sorted = (env: string[]) => [...env].sort()
    expect(sorted(spec.process.env ?? []), '-e B=flag over the image\'s B=image, no PATH in either, compared with what the real dockerd makes of it: which entries? (chapter text, "What docker run takes from the config"; moby\'s daemon/commit.go, merge)').toEqual(sorted(real))
  }, 120_000)
})

describe('resolveUser', () => {
  it('User app, a member of audio in the image\'s /etc/group', () => {
    expect(resolveUser('app', { passwd: PASSWD, group: GROUP }), 'app is 1000:1001 and a member of audio (29)').toEqual({ uid: 1000, gid: 1001, additionalGids: [29] })
  })

  it('User 4242 (not in passwd), app:video and 1000:7', () => {
    expect(resolveUser('4242', { passwd: PASSWD }), 'uid 4242, which passwd does not have: compare with runc\'s GetExecUser (libcontainer/user)').toEqual({ uid: 4242, gid: 0 })
    expect(resolveUser('app:video', { passwd: PASSWD, group: GROUP }).gid).toBe(44)
    expect(resolveUser('1000:7', { passwd: PASSWD, group: GROUP }).gid).toBe(7)
  })

  it('User app:video, and 1000 where passwd names a user "1000"', () => {
    const runc = 'runc\'s GetExecUser (its vendored github.com/moby/sys/user, user.go), which dockerd calls too'
    expect(resolveUser('app:video', { passwd: PASSWD, group: GROUP }), `-u app:video, where the image's /etc/group lists app in audio: which groups does the process get when -u names its group? (${runc})`).toEqual({ uid: 1000, gid: 44 })
    const named = `1000:x:2000:2000::/home/n:/bin/sh\n${PASSWD}`
    expect(resolveUser('1000', { passwd: named, group: GROUP }), `-u 1000, with a passwd whose first line is a user named "1000" (uid 2000) and app (uid 1000) below it: what does runc take a number for? (${runc})`).toEqual({ uid: 1000, gid: 1001, additionalGids: [29] })
  })

  it('User ghost and app:ghosts, names the image does not have', async () => {
    for (const user of ['ghost', 'app:ghosts']) {
      const error = await caught(() => resolveUser(user, { passwd: PASSWD, group: GROUP }))
      expect(error, `"${user}": a ContainerError naming the missing name`).toBeInstanceOf(ContainerError)
      expect(error.message).toContain('ghost')
    }
  })
})

describe('user IDs that wrap', () => {
  for (const user of ['4294967296', '4294967295', '0:4294967296', '99999999999999999999', 'big']) {
    it(`User ${JSON.stringify(user)}`, async () => {
      const files = { passwd: 'root:x:0:0::/root:/bin/sh\nbig:x:4294967296:0::/:/bin/sh\n' }
      const error = await caught(() => resolveUser(user, files))
      expect(error, `User ${user}: what does that ID become on its way to setuid(2)? (man 2 setuid; resolveUser's doc comment)`).toBeInstanceOf(Error)
      expect(error.message, `User ${user}: what does that ID become on its way to setuid(2)?`).toMatch(/must be in range 0-4294967294/)
    })
  }

  it('User 4294967294:4294967294', () => {
    expect(resolveUser('4294967294:4294967294')).toMatchObject({ uid: 4294967294, gid: 4294967294 })
  })
})
