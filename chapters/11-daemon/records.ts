/**
 * Chapter 11: containers on disk, as dockerd keeps them under ROOT/containers/ID/
 * (moby daemon/container/container.go ToDisk, daemon/create.go): config.v2.json (the
 * container: its config, its state, its name), hostconfig.json (how to run it), and the
 * files bind-mounted into it (hostname, hosts, resolv.conf) beside its json-file log.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { ImageConfig } from '#ch/06-images/config.ts'
import { containerDir, randomName, VALID_NAME, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from '../../lib/engine.ts'
import { badRequest, conflict, EngineError, noSuchContainer } from './api.ts'

export type { Container, ContainerConfig, ContainerState, HostConfig } from '../../lib/engine.ts'
export { containerDir, loadContainers, stateWord, statusText, ZERO_TIME } from '../../lib/engine.ts'

// #region newContainer
/**
 * A new container from a create request's body, the image's config and the name (or none):
 * its config is the request's over the image's, merged as dockerd merges them, and Path and
 * Args are what will run. A name dockerd would refuse, a name in use and nothing to run are
 * refused as dockerd refuses them, status and words (moby daemon/names.go, daemon/create.go;
 * or ask a real dockerd).
 */
export function newContainer(root: string, body: Partial<ContainerConfig> & { HostConfig?: HostConfig }, image: { id: string; config: ImageConfig }, name: string | undefined, existing: Container[]): Container {
  // TODO(11): a container record from a create request (moby daemon/create.go, daemon/names.go reserveName,
  //   daemon/commit.go merge; the text's "A container on disk").
  //   1. The name is checked before anything else, against dockerd's pattern (VALID_NAME) and every other
  //      container's; a container without one gets a random one (randomName).
  //   2. The merge follows chapter 06's applyImageConfig, as dockerd's merge does; compare on a real dockerd
  //      what `docker run --entrypoint` runs with and without a command of its own, and what `-e` does to a
  //      variable the image sets (docker-run(1)).
  //   3. The container's files all live in its folder, named as dockerd names them. Every field of the
  //      Container type gets a value.
  throw new NotImplementedError('11-daemon', 'newContainer')
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
  // TODO(11): write the record where dockerd keeps it (moby container/container.go ToDisk and
  //   WriteHostConfig; the text's "A container on disk").
  //   1. The two JSON files split the record as dockerd splits it (compare with a real
  //      /var/lib/docker/containers/ID/).
  //   2. A save may be cut at any byte, and the next daemon must find the old file or the new one: which
  //      operation on a file does the kernel do in one step, so that no reader ever sees half of it?
  //   3. The /etc files are written once, with chapter 05's contents (init.ts), and never again by a save.
  throw new NotImplementedError('11-daemon', 'saveContainer')
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
  // TODO(11): look a container up the way dockerd does (moby daemon/container.go GetContainer,
  //   pkg/truncindex).
  //   1. In which order does dockerd try the kinds of reference, and what if a name is also the start of
  //      another container's ID? Names are stored with their leading "/".
  //   2. When is a prefix an answer, and how does dockerd refuse one that is not?
  throw new NotImplementedError('11-daemon', 'findContainer')
}
// #endregion findContainer

