/**
 * Chapter 11's given containerd calls (the starter and the reference share them): running a container through containerd's gRPC API, as dockerd 20.10 does in
 * libcontainerd/remote/client.go: a containerd container holds the OCI spec (Containers.Create),
 * a task runs it (Tasks.Create with the rootfs as mounts and the stdio as FIFO paths, then
 * Tasks.Start), containerd's event stream reports the exit (the chapter's daemon.ts subscribes), Tasks.Delete and
 * Containers.Delete forget it.
 * containerd starts containerd-shim-runc-v2, which mounts the rootfs and runs runc.
 */
import { resolveUser, type UserFiles } from './image-config.ts'
import { RUNC_RUNTIME, SPEC_TYPE_URL, GRPC_NOT_FOUND, ContainerdError, type Containerd, type Mount } from './containerd.ts'
import { DEFAULT_MOUNTS, DEFAULT_PATH, type Spec } from './oci.ts'
import { INIT_PATH } from '../native/helper.ts'
import { daemonSecurity } from './docker-security.ts'
import { INIT_DESTINATION, type FullSpec, type TaskIO } from './engine.ts'
import type { Container } from './engine.ts'

export { DEFAULT_CAPABILITIES, INIT_DESTINATION } from './engine.ts'
export type { TaskIO } from './engine.ts'

// #region runtimeSpec
/**
 * The OCI spec dockerd would give runc for `c` (moby daemon/oci_linux.go), so that the
 * container runs as it would under dockerd: its command, environment, directory and user as
 * its record says (a user name looked up in the image's own files); its root where
 * containerd's shim mounts the rootfs; the default mounts, the container's own /etc files and
 * its -v binds; its namespaces as its NetworkMode asks; the cgroup `cgroupParent/ID` (the
 * daemon's --cgroup-parent) with the limits of --memory, --cpus and --pids-limit.
 * Capabilities, no_new_privs, the seccomp profile, masked and read-only paths are chapter
 * 13's (lib/docker-security.ts's daemonSecurity(), given). With HostConfig.Init,
 * the init INIT_PATH (native/init.c) runs first, as dockerd runs its docker-init.
 */
export function runtimeSpec(c: Container, files: UserFiles, cgroupParent: string): FullSpec {
  const env = [...c.Config.Env]
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH)
  env.push(`HOSTNAME=${c.Config.Hostname}`)
  if (c.Config.Tty) env.push('TERM=xterm')
  const host = c.HostConfig
  const binds = (host.Binds ?? []).map((bind) => {
    const [source, destination, mode] = bind.split(':')
    return { destination: destination!, type: 'bind', source: source!, options: ['rbind', mode === 'ro' ? 'ro' : 'rw'] }
  })
  const etc = [['/etc/resolv.conf', c.ResolvConfPath], ['/etc/hostname', c.HostnamePath], ['/etc/hosts', c.HostsPath]]
    .map(([destination, source]) => ({ destination: destination!, type: 'bind', source: source!, options: ['rbind', 'rprivate'] }))
  const resources: NonNullable<Spec['linux']>['resources'] = {}
  if (host.Memory) resources.memory = { limit: host.Memory }
  if (host.NanoCpus) resources.cpu = { quota: Math.round((host.NanoCpus / 1e9) * 100_000), period: 100_000 }
  if (host.PidsLimit && host.PidsLimit > 0) resources.pids = { limit: host.PidsLimit }
  const namespaces: NonNullable<Spec['linux']>['namespaces'] = [{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }]
  if (host.NetworkMode !== 'host') namespaces.push({ type: 'network' })
  const security = daemonSecurity(host)
  const args = [c.Path, ...c.Args]
  if (host.Init) {
    binds.push({ destination: INIT_DESTINATION, type: 'bind', source: INIT_PATH, options: ['rbind', 'ro'] })
    args.unshift(INIT_DESTINATION, '--')
  }
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: c.Config.Tty,
      user: resolveUser(c.Config.User, files),
      args,
      env,
      cwd: c.Config.WorkingDir || '/',
      capabilities: security.capabilities,
      noNewPrivileges: security.noNewPrivileges,
    },
    root: { path: 'rootfs' },
    hostname: c.Config.Hostname,
    mounts: [...DEFAULT_MOUNTS, ...etc, ...binds],
    linux: {
      namespaces,
      resources,
      cgroupsPath: `${cgroupParent}/${c.ID}`,
      maskedPaths: security.maskedPaths,
      readonlyPaths: security.readonlyPaths,
      ...(security.seccomp ? { seccomp: security.seccomp } : {}),
    },
  }
}
// #endregion runtimeSpec

// #region startTask
/**
 * Run `c` in containerd, with the same ID, its spec, `rootfs` and the FIFOs of `io`, and
 * return the PID of its process: Containers.Create, Tasks.Create, `beforeStart` awaited with
 * the PID Tasks.Create answered, Tasks.Start. If a call after Containers.Create fails, what it
 * made in containerd is deleted before the error is thrown.
 */
export async function startTask(containerd: Containerd, c: Container, spec: FullSpec, rootfs: Mount[], io: TaskIO, beforeStart: (pid: number) => Promise<void> = async () => {}): Promise<number> {
  await containerd.containers.Create({
    container: {
      id: c.ID,
      labels: {},
      image: c.Config.Image,
      runtime: { name: RUNC_RUNTIME },
      spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
    },
  })
  try {
    const { pid } = await containerd.tasks.Create({
      container_id: c.ID, rootfs, terminal: io.terminal,
      stdin: io.stdin ?? '', stdout: io.stdout, stderr: io.stderr ?? '',
    })
    await beforeStart(pid as number)
    await containerd.tasks.Start({ container_id: c.ID })
    return pid as number
  } catch (error) {
    await deleteTask(containerd, c.ID)
    throw error
  }
}
// #endregion startTask

// #region deleteTask
/**
 * Forget the container in containerd, its task and its metadata alike, so that the same ID can
 * run again. Either may be gone already (a failed start, a second removal): that is no error,
 * while every other failure is.
 */
export async function deleteTask(containerd: Containerd, id: string): Promise<void> {
  const ignoreNotFound = (error: unknown) => {
    if (!(error instanceof ContainerdError && error.code === GRPC_NOT_FOUND)) throw error
  }
  await containerd.tasks.Delete({ container_id: id }).catch(ignoreNotFound)
  await containerd.containers.Delete({ id }).catch(ignoreNotFound)
}
// #endregion deleteTask

/** Send `signal` (a number) to the task's process. */
export async function killTask(containerd: Containerd, id: string, signal: number): Promise<void> {
  await containerd.tasks.Kill({ container_id: id, signal, all: false })
}
