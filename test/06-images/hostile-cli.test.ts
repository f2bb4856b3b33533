/**
 * Hostile input through the `minidocker` command, as a user meets it: the store's permissions,
 * rmi while a container runs, an image's IDs that wrap.
 */
import { fileURLToPath } from 'node:url'
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { expect, it } from 'vitest'
import { allLayers, storePaths } from '#ch/06-images/store.ts'
import { onCleanup, tempDir } from '../support/files.ts'
import { waitFor } from '../support/container.ts'
import { describeKernel } from '../support/kernel.ts'
import { buildImage, minidocker, probeEntries, writeOciLayout } from '../support/images.ts'

/** Load a runnable image tagged `name` into the store at `root`, with a setuid-root file and a device node. */
async function loadProbe(root: string, name: string) {
  const folder = tempDir()
  const image = await buildImage([probeEntries(), [{ name: 'suid', content: 'x', mode: 0o4755 }, { name: 'null', type: 'character-device', mode: 0o666 }]])
  writeOciLayout(folder, [{ image, name }])
  const load = await minidocker(root, ['load', '-i', folder])
  expect(load.code, `minidocker load failed: ${load.stderr}`).toBe(0)
  return image
}

describeKernel('hostile input through minidocker', () => {
  it('a store under a 0755 parent, holding a setuid file and a device node', async () => {
    const parent = tempDir()
    chmodSync(parent, 0o755) // as /var/lib is: only the store itself may keep others out
    const root = join(parent, 'store')
    await loadProbe(root, 'perm:1')
    const paths = storePaths(root)
    for (const dir of [root, join(root, 'image'), paths.graph, paths.blobs, paths.containers]) {
      expect(statSync(dir).mode & 0o077, `${dir} lets other users in: a layer's setuid programs and device nodes would be theirs to use`).toBe(0)
    }
    const layer = allLayers(root).find((l) => existsSync(join(paths.graph, l.cacheId, 'diff', 'null')))!
    const node = join(paths.graph, layer.cacheId, 'diff', 'null')
    const other = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `: > ${node}`], { reject: false })
    expect(other.exitCode, 'a host user other than root opened the layer\'s device node').not.toBe(0)
    expect(other.stderr).toMatch(/Permission denied/)
  }, 90_000)

  it('minidocker rmi, then rmi -f, while a container runs', async () => {
    const root = tempDir()
    await loadProbe(root, 'busy:1')
    const bin = fileURLToPath(new URL('../../bin/minidocker.cjs', import.meta.url))
    const run = execa(process.execPath, [bin, 'run', 'busy:1', '/probe', 'sleep:20000', 'cat:/etc/passwd'], { env: { MINIDOCKER_ROOT: root }, reject: false, stdin: 'ignore' })
    onCleanup(async () => {
      run.kill('SIGKILL')
      await run
    })
    expect(await waitFor(() => existsSync(storePaths(root).containers) && readdirSync(storePaths(root).containers).length > 0, 30_000), 'the container never started').toBe(true)
    const refused = await minidocker(root, ['rmi', 'busy:1'])
    expect(refused.code, 'rmi of an image in use must fail').not.toBe(0)
    expect(refused.stderr).toMatch(/conflict: unable to remove repository reference "busy:1" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}/)
    const layers = allLayers(root).length
    const forced = await minidocker(root, ['rmi', '-f', 'busy:1'])
    expect(forced.stdout, `rmi -f: ${forced.stderr}`).toMatch(/Untagged: busy:1[\s\S]*Deleted: sha256:/)
    expect(allLayers(root).length, 'rmi -f while the container still runs: what is its overlay stacked on?').toBe(layers)
    const { exitCode, stdout, stderr } = await run
    expect(exitCode, `the container must run to its end on its own files: ${stderr}`).toBe(0)
    expect(stdout, 'the image\'s files were still there').toContain('probe:x:1000')
    expect(allLayers(root), 'with the image gone and its last container ended, its layers go too').toEqual([])
  }, 120_000)

  it('minidocker run -u with IDs past 2^32-2', async () => {
    const root = tempDir()
    await loadProbe(root, 'ids:1')
    for (const args of [['-u', '4294967296:4294967296'], ['-u', '0:4294967295'], ['-u', 'probe:4294967296']]) {
      const { code, stderr } = await minidocker(root, ['run', ...args, 'ids:1', '/probe', 'id'])
      expect(code, `run ${args.join(' ')}: what does that ID become in setuid(2)?`).toBe(125)
      expect(stderr).toMatch(/must be in range 0-4294967294/)
    }
  }, 90_000)
})
