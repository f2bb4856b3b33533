/**
 * Chapter 11: containers on disk, as dockerd keeps them under ROOT/containers/ID/
 * (moby daemon/container/container.go ToDisk, daemon/create.go): config.v2.json (the
 * container: its config, its state, its name), hostconfig.json (how to run it), and the
 * files bind-mounted into it (hostname, hosts, resolv.conf) beside its json-file log.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hostsFile, resolvConf } from '#ch/05-layers/init.ts'
import type { ImageConfig } from '#ch/06-images/config.ts'
import { containerDir, randomName, VALID_NAME, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from '../../lib/engine.ts'
import { badRequest, conflict, EngineError, noSuchContainer } from './api.ts'

export type { Container, ContainerConfig, ContainerState, HostConfig } from '../../lib/engine.ts'
export { containerDir, loadContainers, stateWord, statusText, ZERO_TIME } from '../../lib/engine.ts'

// #region newContainer
/**
 * A new container from a create request's body, the image's config and the name (or none):
 * the image's Env first and the request's over it by key, the request's Cmd or else the
 * image's (an Entrypoint given in the request drops the image's Cmd), Entrypoint, WorkingDir
 * and User likewise; Path and Args are what will run. An invalid name is a 400 with dockerd's
 * words ("Invalid container name (NAME), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"); a name
 * in use is a 409: `Conflict. The container name "/NAME" is already in use by container "ID".
 * You have to remove (or rename) that container to be able to reuse that name.` A command-less
 * result is a 400 "No command specified".
 */
export function newContainer(root: string, body: Partial<ContainerConfig> & { HostConfig?: HostConfig }, image: { id: string; config: ImageConfig }, name: string | undefined, existing: Container[]): Container {
  // TODO(11): a container record from a create request (moby daemon/create.go, daemon/container.go).
  //   1. Check the name first: which names does dockerd refuse, and what must happen when another container
  //      already has it (the doc comment has the words; both are tested word for word)?
  //   2. Merge: which of Env, Cmd, Entrypoint, WorkingDir and User come from the image when the request has
  //      none, and how do the two Envs combine? Why does an Entrypoint in the request drop the image's Cmd?
  //   3. Path and Args are what will run. Where do the log, hostname, hosts and resolv.conf files live
  //      (the text's "A container on disk")? Every field of the Container type needs a value.
  throw new NotImplementedError('11-daemon', 'newContainer')
}
// #endregion newContainer

// #region saveContainer
/**
 * Write the record: config.v2.json and hostconfig.json (each replaced whole, never half
 * written: a daemon killed mid-write must find the old record or the new one), and on the
 * first save the hostname, hosts and resolv.conf files the container gets bind-mounted.
 */
export function saveContainer(root: string, container: Container, hostResolvConf = ''): void {
  // TODO(11): write the record where dockerd keeps it (the text's "A container on disk").
  //   1. Which fields go to config.v2.json and which to hostconfig.json?
  //   2. The daemon may be killed at any moment: how do you replace a file so that a reader finds the old
  //      whole file or the new whole file, never half of one?
  //   3. The hostname, hosts and resolv.conf files are written once (chapter 05 has their contents).
  throw new NotImplementedError('11-daemon', 'saveContainer')
}
// #endregion saveContainer

// #region findContainer
/**
 * The container `ref` names, as dockerd's GetContainer looks: the full ID, then the name
 * (with or without its "/"), then a unique ID prefix. None is a 404 "No such container: REF";
 * a prefix of several IDs is a 400 "Multiple IDs found with provided prefix: REF".
 */
export function findContainer(containers: Iterable<Container>, ref: string): Container {
  // TODO(11): look a container up the way dockerd's GetContainer does.
  //   1. In which order are the full ID, the name (stored with a leading "/") and an ID prefix tried?
  //   2. What answers a prefix that fits several containers, and one that fits none (status and words)?
  throw new NotImplementedError('11-daemon', 'findContainer')
}
// #endregion findContainer

