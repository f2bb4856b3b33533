/**
 * The real `docker run`, as a witness: the docker CLI against Debian's dockerd with its own
 * runtime (runc) and the probe's image loaded as probe:latest (the probe at /probe, and
 * /etc/passwd, a file without its x bit). Started from a directory of its own on first use,
 * once per test file, and stopped by PID (with that directory removed) after the file's tests.
 * Nothing of the chapters under test takes part.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { afterAll } from 'vitest'
import { startDockerd, type Daemon } from './daemons.ts'
import { buildImage, probeEntries, tarFolder, writeDockerSave, type TestImage } from './images.ts'

export interface DockerRun {
  /** what `docker` exited with */
  code: number
  stdout: string
  stderr: string
}

// The newest docker CLI the machine has (Debian's 20.10 reads -e the same way).
export const DOCKER = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p)) ?? 'docker'

interface Witness {
  daemon: Daemon
  dir: string
  env: Record<string, string>
}

let started: Promise<Witness> | undefined

async function start(): Promise<Witness> {
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-realdocker-'))
  const daemon = await startDockerd(dir, [])
  const env = { DOCKER_HOST: `unix://${daemon.socket}`, DOCKER_CONFIG: join(dir, 'client') }
  try {
    // the socket is there before the daemon serves (or after it failed): wait for an answer
    for (const end = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 250))) {
      const ping = await execa(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env, reject: false, timeout: 30_000 })
      if (ping.exitCode === 0) break
      if (Date.now() > end) throw new Error(`dockerd does not answer: ${ping.stderr}\n${daemon.log().slice(-3000)}`)
    }
    await load({ daemon, dir, env }, await buildImage([probeEntries()], { docker: true }), 'probe:latest')
  } catch (error) {
    await daemon.stop()
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return { daemon, dir, env }
}

/** `docker load` of IMAGE as TAG, through a docker save archive in the witness's folder. */
async function load({ daemon, dir, env }: Witness, image: TestImage, tag: string): Promise<void> {
  const save = mkdtempSync(join(dir, 'save-'))
  writeDockerSave(save, [{ image, tags: [tag] }])
  writeFileSync(`${save}.tar`, await tarFolder(save))
  const loaded = await execa(DOCKER, ['load', '-i', `${save}.tar`], { env, reject: false })
  if (loaded.exitCode !== 0) throw new Error(`docker load failed: ${loaded.stderr}\n${daemon.log().slice(-3000)}`)
}

/** Give the witness IMAGE as TAG, for a test of its own image. */
export async function loadImage(image: TestImage, tag: string): Promise<void> {
  started ??= start()
  await load(await started, image, tag)
}

afterAll(async () => {
  if (!started) return
  const { daemon, dir } = await started.catch(() => ({ daemon: undefined, dir: undefined }))
  started = undefined
  await daemon?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/**
 * The witness CLI's version ("28.2.2"): where it is not the one the chapters describe (the VM's
 * Debian ships an older docker-cli), its error messages may be worded otherwise.
 */
export function dockerVersion(): Promise<string> {
  version ??= execa(DOCKER, ['--version'], { reject: false, stdin: 'ignore' }).then((r) => /version ([^\s,]+)/.exec(r.stdout)?.[1] ?? '')
  return version
}
let version: Promise<string> | undefined

/**
 * `docker ARGS` against that dockerd (`docker run --rm --network none` when ARGS starts with
 * "run"), with the client's environment exactly `clientEnv` (plus where to find the daemon).
 */
export async function docker(args: string[], clientEnv: Record<string, string | undefined> = {}): Promise<DockerRun> {
  started ??= start()
  const { env } = await started
  const full = args[0] === 'run' ? ['run', '--rm', '--network', 'none', ...args.slice(1)] : args
  const defined = Object.fromEntries(Object.entries(clientEnv).filter((e): e is [string, string] => e[1] !== undefined))
  const r = await execa(DOCKER, full, { env: { ...defined, ...env }, extendEnv: false, reject: false, stdin: 'ignore', timeout: 60_000 })
  // no exit code: docker itself was ended by the timeout, and no real run exits -1
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) }
}
