/**
 * The Engine API's JSON views, given to chapter 11's routes: a container as `docker inspect`
 * and `docker ps` read it, an image as `docker images` and `docker image inspect` do, an exec
 * instance, and `docker info`'s system, all from the daemon's records and chapter 06's store.
 */
import { cpus, hostname, release, totalmem } from 'node:os'
import { layerPaths, overlayDirs } from '#ch/05-layers/driver.ts'
import { allImageIds, imageConfig, imageLayers, resolveImage, storePaths, tagsOf } from '#ch/06-images/store.ts'
import { familiarName, parseReference } from '../lib/reference.ts'
import type { Daemon, Exec } from '#ch/11-daemon/daemon.ts'
import type { Container } from '../lib/container-records.ts'
import { portMappings } from '../lib/engine-daemon.ts'
import { noSuchImage, stateWord, statusText, unixTime } from '../lib/engine.ts'

export const VERSION = '20.10.24-minidocker'

/** An image reference as the store tags it: "busybox" is "busybox:latest"; an ID stays as it is. */
export function imageRef(ref: string): string {
  if (/^(sha256:)?[a-f0-9]{12,64}$/.test(ref)) return ref
  try {
    return familiarName(parseReference(ref))
  } catch {
    return ref
  }
}

/** `GET /containers/{id}/json`: the fields `docker inspect` and its -f templates read. */
export function inspectContainer(c: Container, graphRoot: string) {
  const own = layerPaths(graphRoot, c.ID)
  const graph = { Name: 'overlay2', Data: { LowerDir: overlayDirs(graphRoot, c.ID).lower.join(':'), MergedDir: own.merged, UpperDir: own.diff, WorkDir: own.work } }
  return {
    Id: c.ID, Created: c.Created, Path: c.Path, Args: c.Args,
    State: { Status: stateWord(c), Running: c.State.Running, Paused: false, Restarting: false, OOMKilled: c.State.OOMKilled, Dead: false, Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt },
    Image: c.Image, ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath, HostsPath: c.HostsPath, LogPath: c.LogPath,
    Name: c.Name, RestartCount: c.RestartCount, Driver: c.Driver, Platform: 'linux', MountLabel: '', ProcessLabel: '', AppArmorProfile: '', ExecIDs: null,
    HostConfig: c.HostConfig, GraphDriver: graph,
    Mounts: (c.HostConfig.Binds ?? []).map((b) => {
      const [source, destination, mode] = b.split(':')
      return { Type: 'bind', Source: source, Destination: destination, Mode: mode ?? '', RW: mode !== 'ro', Propagation: 'rprivate' }
    }),
    Config: { ...c.Config, Volumes: null, OnBuild: null },
    NetworkSettings: networkSettings(c),
  }
}

/**
 * NetworkSettings as dockerd 20.10 fills it (API v1.41): the address, gateway, prefix and MAC
 * of a container on the bridge, at the top and under Networks.bridge; empty once it has exited.
 */
function networkSettings(c: Container) {
  const own = c.NetworkSettings
  const ip = { IPAddress: own?.IPAddress ?? '', Gateway: own?.Gateway ?? '', IPPrefixLen: own?.IPPrefixLen ?? 0, MacAddress: own?.MacAddress ?? '', IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0 }
  return {
    Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: own?.Ports ?? {}, SandboxKey: '',
    SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', ...ip,
    Networks: { [networkName(c)]: { IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', ...ip, DriverOpts: null } },
  }
}

/** The network's name as dockerd keys it: NetworkMode "default" is the bridge. */
function networkName(c: Container): string {
  const mode = c.HostConfig.NetworkMode || 'default'
  return mode === 'default' ? 'bridge' : mode
}

/** One item of `GET /containers/json`. */
export function containerSummary(c: Container) {
  return {
    Id: c.ID, Names: [c.Name], Image: c.Config.Image, ImageID: c.Image,
    Command: [c.Path, ...c.Args].join(' '), Created: unixTime(c.Created), Ports: publishedPorts(c), Labels: c.Config.Labels,
    State: stateWord(c), Status: statusText(c), HostConfig: { NetworkMode: c.HostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: { [networkName(c)]: networkSettings(c).Networks[networkName(c)] } }, Mounts: [],
  }
}

/** `GET /images/json` and `GET /images/{name}/json` from chapter 06's store. */
export function imageSummary(root: string, id: string) {
  const config = imageConfig(root, id)
  const size = imageLayers(root, id).reduce((sum, l) => sum + l.size, 0)
  return { Id: id, ParentId: '', RepoTags: tagsOf(root, id), RepoDigests: [], Created: unixTime(config.created), Size: size, VirtualSize: size, SharedSize: -1, Labels: config.config?.Labels ?? null, Containers: -1 }
}

export function inspectImage(root: string, ref: string) {
  let id: string
  try {
    id = resolveImage(root, imageRef(ref))
  } catch {
    throw noSuchImage(ref)
  }
  const config = imageConfig(root, id)
  const layers = imageLayers(root, id)
  const graph = storePaths(root).graph
  const top = layers.at(-1)
  return {
    ...imageSummary(root, id), Parent: '', Comment: '', Container: '', ContainerConfig: {}, DockerVersion: '', Author: config.author ?? '',
    Config: config.config ?? {}, Architecture: config.architecture, Os: config.os,
    GraphDriver: { Name: 'overlay2', Data: top ? { UpperDir: layerPaths(graph, top.cacheId).diff, LowerDir: top.parent ? overlayDirs(graph, top.cacheId).lower.join(':') : undefined } : {} },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids }, Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  }
}

export const systemInfo = (daemon: Pick<Daemon, 'containers' | 'options'>) => {
  const all = [...daemon.containers.values()]
  return {
    ID: hostname(), Containers: all.length, ContainersRunning: all.filter((c) => c.State.Running).length, ContainersPaused: 0,
    ContainersStopped: all.filter((c) => !c.State.Running).length, Images: allImageIds(daemon.options.root).length,
    Driver: 'overlay2', DriverStatus: [], Plugins: { Volume: [], Network: daemon.options.bridge ? ['bridge', 'host', 'null'] : ['host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true, SwapLimit: false, CpuCfsPeriod: true, CpuCfsQuota: true, PidsLimit: true, IPv4Forwarding: false,
    Debug: false, NFd: 0, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: 'json-file', CgroupDriver: 'cgroupfs',
    CgroupVersion: '1', NEventsListener: 0, KernelVersion: release(), OperatingSystem: 'minidocker', OSVersion: '', OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], InsecureRegistryCIDRs: ['127.0.0.0/8'], IndexConfigs: {}, Mirrors: [] },
    NCPU: cpus().length, MemTotal: totalmem(), DockerRootDir: daemon.options.root, Name: hostname(), Labels: [], ExperimentalBuild: false,
    ServerVersion: VERSION, Runtimes: { runc: { path: 'runc' } }, DefaultRuntime: 'runc', Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false, Isolation: '', InitBinary: '', ContainerdCommit: { ID: '', Expected: '' }, RuncCommit: { ID: '', Expected: '' }, InitCommit: { ID: '', Expected: '' },
    SecurityOptions: [], Warnings: [],
  }
}

/** `GET /exec/{id}/json`: the CLI's exit status is ExitCode. */
export function inspectExec(exec: Exec) {
  return {
    ID: exec.ID, Running: exec.Running, ExitCode: exec.ExitCode, ContainerID: exec.ContainerID, Pid: exec.Pid, CanRemove: false, DetachKeys: '',
    OpenStdin: exec.AttachStdin, OpenStdout: exec.AttachStdout, OpenStderr: exec.AttachStderr,
    ProcessConfig: { tty: exec.Tty, entrypoint: exec.Cmd[0], arguments: exec.Cmd.slice(1), privileged: false, user: exec.User },
  }
}

/** The ports a running container publishes, with the host ports chosen, as ps lists them ("127.0.0.1:8080->80/tcp" in the CLI). */
function publishedPorts(c: Container) {
  return portMappings(c.NetworkSettings?.Ports).map((p) => ({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto }))
}
