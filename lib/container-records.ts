/**
 * Chapter 11's given container records (the starter and the reference share them): containers on disk, as dockerd keeps them under ROOT/containers/ID/
 * (moby daemon/container/container.go ToDisk, daemon/create.go): config.v2.json (the
 * container: its config, its state, its name), hostconfig.json (how to run it), and the
 * files bind-mounted into it (hostname, hosts, resolv.conf) beside its json-file log.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hostsFile, resolvConf } from '#ch/05-layers/init.ts'
import type { ImageConfig } from './image.ts'
import { containerDir, randomName, VALID_NAME, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from './engine.ts'
import { badRequest, conflict, EngineError, noSuchContainer } from './engine-api.ts'

export type { Container, ContainerConfig, ContainerState, HostConfig } from './engine.ts'
export { containerDir, loadContainers, stateWord, statusText, ZERO_TIME } from './engine.ts'

// #region newContainer
/**
 * A new container from a create request's body, the image's config and the name (or none):
 * its config is the request's over the image's, merged as dockerd merges them, and Path and
 * Args are what will run. A name dockerd would refuse, a name in use and nothing to run are
 * refused as dockerd refuses them, status and words (moby daemon/names.go, daemon/create.go;
 * or ask a real dockerd).
 */
export function newContainer(root: string, body: Partial<ContainerConfig> & { HostConfig?: HostConfig }, image: { id: string; config: ImageConfig }, name: string | undefined, existing: Container[]): Container {
  if (name !== undefined && name !== '' && !VALID_NAME.test(name))
    throw badRequest(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
  const fullName = `/${(name || randomName((n) => existing.some((c) => c.Name === n))).replace(/^\//, '')}`
  const owner = existing.find((c) => c.Name === fullName)
  if (owner)
    throw conflict(`Conflict. The container name "${fullName}" is already in use by container "${owner.ID}". You have to remove (or rename) that container to be able to reuse that name.`)
  const id = randomBytes(32).toString('hex')
  const fromImage = image.config.config ?? {}
  // moby's merge (daemon/commit.go): the run's entries as sent, then the image's whose name the run does not set
  const named = (entry: string) => entry.split('=', 1)[0]!
  const own = new Set((body.Env ?? []).map(named))
  const env = [...(body.Env ?? []), ...(fromImage.Env ?? []).filter((entry) => !own.has(named(entry)))]
  const entrypoint = body.Entrypoint?.length ? body.Entrypoint : (fromImage.Entrypoint ?? null)
  const cmd = body.Cmd?.length ? body.Cmd : body.Entrypoint?.length ? [] : (fromImage.Cmd ?? [])
  const argv = [...(entrypoint ?? []), ...cmd]
  if (argv.length === 0) throw badRequest('No command specified')
  const dir = containerDir(root, id)
  const config: ContainerConfig = {
    Hostname: body.Hostname || id.slice(0, 12),
    Domainname: body.Domainname ?? '',
    User: body.User || fromImage.User || '',
    AttachStdin: body.AttachStdin ?? false,
    AttachStdout: body.AttachStdout ?? false,
    AttachStderr: body.AttachStderr ?? false,
    Tty: body.Tty ?? false,
    OpenStdin: body.OpenStdin ?? false,
    StdinOnce: body.StdinOnce ?? false,
    Env: env,
    Cmd: cmd,
    Image: body.Image ?? '',
    WorkingDir: body.WorkingDir || fromImage.WorkingDir || '',
    Entrypoint: entrypoint,
    Labels: body.Labels ?? {},
    ...(body.StopSignal || fromImage.StopSignal ? { StopSignal: body.StopSignal || fromImage.StopSignal } : {}),
    ...(typeof body.StopTimeout === 'number' ? { StopTimeout: body.StopTimeout } : {}),
  }
  return {
    ID: id,
    Created: new Date().toISOString(),
    Path: argv[0]!,
    Args: argv.slice(1),
    Config: config,
    Image: image.id,
    State: { Running: false, Paused: false, Restarting: false, OOMKilled: false, RemovalInProgress: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME },
    Name: fullName,
    RestartCount: 0,
    Driver: 'overlay2',
    LogPath: join(dir, `${id}-json.log`),
    HostnamePath: join(dir, 'hostname'),
    HostsPath: join(dir, 'hosts'),
    ResolvConfPath: join(dir, 'resolv.conf'),
    HostConfig: body.HostConfig ?? {},
  }
}
// #endregion newContainer

// #region saveContainer
/**
 * Write the record as dockerd keeps it in the container's folder: config.v2.json and
 * hostconfig.json, and on the first save the hostname, hosts and resolv.conf files the
 * container gets bind-mounted. A daemon killed at any moment finds the old record or the new
 * one, never half of one.
 */
export function saveContainer(root: string, container: Container, hostResolvConf = ''): void {
  const dir = containerDir(root, container.ID)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const replace = (file: string, text: string) => {
    writeFileSync(`${file}.tmp`, text)
    renameSync(`${file}.tmp`, file)
  }
  const { HostConfig, ...config } = container
  replace(join(dir, 'config.v2.json'), JSON.stringify(config))
  replace(join(dir, 'hostconfig.json'), JSON.stringify(HostConfig))
  if (!existsSync(container.HostnamePath)) {
    writeFileSync(container.HostnamePath, `${container.Config.Hostname}\n`)
    writeFileSync(container.HostsPath, hostsFile(container.Config.Hostname))
    writeFileSync(container.ResolvConfPath, resolvConf(hostResolvConf))
  }
}
// #endregion saveContainer

// #region findContainer
/**
 * The container `ref` names, as dockerd's GetContainer finds it from whatever the user typed:
 * an ID, a name (the CLI may send it with or without its "/"), or the start of an ID. A ref
 * that names none, or could mean several, is refused as GetContainer refuses it (status and
 * words: moby daemon/container.go, daemon/errors.go, pkg/truncindex).
 */
export function findContainer(containers: Iterable<Container>, ref: string): Container {
  const all = [...containers]
  const exact = all.find((c) => c.ID === ref) ?? all.find((c) => c.Name === `/${ref.replace(/^\//, '')}`)
  if (exact) return exact
  const prefixed = /^[a-f0-9]+$/.test(ref) ? all.filter((c) => c.ID.startsWith(ref)) : []
  if (prefixed.length > 1) throw new EngineError(400, `Multiple IDs found with provided prefix: ${ref}`)
  if (prefixed.length === 0) throw noSuchContainer(ref)
  return prefixed[0]!
}
// #endregion findContainer

