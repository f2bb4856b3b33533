/**
 * The finale's stack (`npx workbook finale [--reference]`): the hello-world image built here,
 * a loopback registry serving it as library/hello-world, minicontainerd running its tasks
 * under containerd-shim-minidocker-v2 and minirunc, and minidockerd in front, pulling docker.io
 * images through the registry as its mirror. Every process is stopped by PID and every file
 * made is removed by stop(). The learner's chapters run unless WORKBOOK_IMPL says otherwise,
 * as for every command; the children inherit the choice.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { DEFAULT_CGROUP_PARENT } from '../lib/engine.ts'
import { removeCgroupParent, startDaemon, type Daemon } from '../test/support/daemons.ts'
import { removeTasks } from '../test/support/daemon.ts'
import { buildImage, type Entry } from '../test/support/images.ts'
import { pushImage, startRegistry, type Registry } from '../test/support/registry.ts'

const ROOT = new URL('..', import.meta.url).pathname
export const HELLO_PATH = join(ROOT, 'native', 'build', 'hello')
/** The default socket of minidockerd, and of the client. */
export const DEFAULT_SOCKET = '/run/minidocker/minidocker.sock'
/** The containerd namespace minidockerd's containers live in. */
const NAMESPACE = 'minidocker'
/** The shim minidockerd asks minicontainerd for: containerd-shim-minidocker-v2. */
const SHIM_RUNTIME = 'io.containerd.minidocker.v2'
/** How long hello-world:sleep waits after its message. */
export const SLEEP_SECONDS = 600

export interface Finale {
  /** minidockerd's socket, as a -H value: unix:///run/minidocker/minidocker.sock */
  host: string
  /** the registry, 127.0.0.1:PORT */
  registry: string
  /** the temp directory every daemon keeps its state in */
  dir: string
  /** the cgroup minidockerd's containers go below */
  cgroupParent: string
  minicontainerd: Daemon
  minidockerd: Daemon
  stop(): Promise<void>
}

/** hello-world (Cmd /hello) and hello-world:sleep (the same layer, Cmd /hello --sleep N): one static file. */
export async function helloImages() {
  if (!existsSync(HELLO_PATH)) throw new Error(`${HELLO_PATH} is missing: run make -C native (npm install does)`)
  const layer: Entry[] = [{ name: 'hello', content: readFileSync(HELLO_PATH), mode: 0o755 }]
  const config = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }
  return {
    latest: await buildImage([layer], { config: { ...config, Cmd: ['/hello'] } }),
    sleep: await buildImage([layer], { config: { ...config, Cmd: ['/hello', '--sleep', String(SLEEP_SECONDS)] } }),
  }
}

/** Whether something accepts connections on the unix socket `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path)
    const done = (answer: boolean) => {
      socket.destroy()
      resolve(answer)
    }
    socket.once('connect', () => done(true)).once('error', () => done(false))
  })
}

/**
 * Start the whole stack, minidockerd on `socket`. `debug` gives minidockerd --debug, its
 * request log. On any failure what was started is stopped before the error is thrown.
 */
export async function startFinale(options: { socket?: string; debug?: boolean; output?: (daemon: string, text: string) => void } = {}): Promise<Finale> {
  const socket = options.socket ?? DEFAULT_SOCKET
  if (existsSync(socket) && (await listening(socket))) throw new Error(`${socket} is in use: is a minidockerd running there already? Stop it, or choose another socket`)
  const dir = mkdtempSync(join(tmpdir(), 'minidocker-finale-'))
  // a stack on another socket may run beside the default one (a test's): its containers go under a
  // cgroup parent of its own, so that neither stack's stop removes the other's
  const cgroupParent = socket === DEFAULT_SOCKET ? DEFAULT_CGROUP_PARENT : `/${basename(dir)}`
  const stops: (() => Promise<void>)[] = []
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((error: Error) => console.error(`finale: ${error.message}`))
    stops.length = 0
  }
  try {
    stops.push(async () => rmSync(dir, { recursive: true, force: true }))
    const registry: Registry = await startRegistry()
    stops.push(registry.stop)
    const images = await helloImages()
    await pushImage(registry, 'library/hello-world', 'latest', images.latest)
    await pushImage(registry, 'library/hello-world', 'sleep', images.sleep)

    // each daemon in its own folder: a stop kills by PID what still names its folder
    const [ctd, dockerd] = [join(dir, 'containerd'), join(dir, 'dockerd')]
    // containerd finds a shim by name on its PATH; the shim starts minirunc the same way
    const bin = join(ctd, 'bin')
    mkdirSync(bin, { recursive: true })
    symlinkSync(join(ROOT, 'bin', 'containerd-shim-minidocker-v2.cjs'), join(bin, 'containerd-shim-minidocker-v2'))
    symlinkSync(join(ROOT, 'bin', 'minirunc.cjs'), join(bin, 'minirunc'))
    const env = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, MINIDOCKER_SHIM_RUNTIME: 'minirunc' }
    const containerdSocket = join(ctd, 'c.sock')
    const minicontainerd = await startDaemon('minicontainerd', process.execPath, [join(ROOT, 'bin', 'minicontainerd.cjs'), '--root', join(ctd, 'root'), '--address', containerdSocket], ctd, containerdSocket, {
      env,
      detached: true,
      output: (text) => options.output?.('minicontainerd', text),
      // the tasks minidockerd left, ended through minicontainerd, so their shims unmount and exit
      beforeStop: () => removeTasks(containerdSocket, NAMESPACE),
      // minirunc's state folder for the namespace and the cgroup parent, once its containers are deleted (another stack's stay)
      afterStop: async () => {
        try {
          rmdirSync(join('/run/containerd/runc', NAMESPACE))
        } catch {}
        removeCgroupParent(cgroupParent)
      },
    })
    stops.push(minicontainerd.stop)

    mkdirSync(dirname(socket), { recursive: true })
    const minidockerd = await startDaemon('minidockerd', process.execPath, [join(ROOT, 'bin', 'minidockerd.cjs'), '-H', `unix://${socket}`,
      '--data-root', join(dockerd, 'data'), '--exec-root', join(dockerd, 'exec'), '--containerd', containerdSocket, '--namespace', NAMESPACE,
      '--default-runtime', SHIM_RUNTIME, '--registry-mirror', registry.url, '--default-network', 'none', '--cgroup-parent', cgroupParent, ...(options.debug ? ['--debug'] : [])], dockerd, socket, {
      env,
      detached: true,
      output: (text) => options.output?.('minidockerd', text),
      afterStop: async () => rmSync(socket, { force: true }),
    })
    stops.push(minidockerd.stop)
    return { host: `unix://${socket}`, registry: registry.host, dir, cgroupParent, minicontainerd, minidockerd, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
