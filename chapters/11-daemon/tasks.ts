/**
 * Chapter 11: running a container through containerd's gRPC API, as dockerd 20.10 does in
 * libcontainerd/remote/client.go: a containerd container holds the OCI spec (Containers.Create),
 * a task runs it (Tasks.Create with the rootfs as mounts and the stdio as FIFO paths, then
 * Tasks.Start), containerd's event stream reports the exit (daemon.ts), Tasks.Delete and
 * Containers.Delete forget it.
 * containerd starts containerd-shim-runc-v2, which mounts the rootfs and runs runc.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import type { UserFiles } from '#ch/06-images/config.ts'
import type { Containerd, Envelope, Mount, Subscription } from '../../lib/containerd.ts'
import type { FullSpec, TaskIO } from '../../lib/engine.ts'
import type { Container } from './records.ts'

export { DEFAULT_CAPABILITIES, INIT_DESTINATION } from '../../lib/engine.ts'
export type { TaskIO } from '../../lib/engine.ts'

// #region runtimeSpec
/**
 * The OCI spec dockerd would give runc for `c` (moby daemon/oci_linux.go), so that the
 * container runs as it would under dockerd: its command, environment, directory and user as
 * its record says (a user name looked up in the image's own files); its root where
 * containerd's shim mounts the rootfs; the default mounts, the container's own /etc files and
 * its -v binds; its namespaces as its NetworkMode asks; the cgroup `/minidockerd/ID` with the
 * limits of --memory, --cpus and --pids-limit. Capabilities, no_new_privs, the seccomp
 * profile, masked and read-only paths are chapter 13's (lib/docker-security.ts's
 * daemonSecurity(), given). With HostConfig.Init,
 * the init INIT_PATH (native/init.c) runs first, as dockerd runs its docker-init.
 */
export function runtimeSpec(c: Container, files: UserFiles): FullSpec {
  // TODO(11): the OCI spec for runc, as dockerd builds it in daemon/oci_linux.go (the text's "The spec, and containerd's calls").
  //   1. process: what runs, with which environment (what does dockerd always add, and what with a tty? lib/oci.ts
  //      has Docker's defaults), in which directory, as which user (chapter 06's config.ts resolves names)?
  //   2. root: where will containerd's shim have mounted the rootfs, relative to the bundle?
  //   3. mounts: what does every container get (lib/oci.ts), which of the image's /etc files does the
  //      container's own hide, and how does a -v bind (and its :ro) become a mount?
  //   4. linux: which namespaces (what changes with NetworkMode "host"?), which cgroup path, which resources
  //      from Memory, NanoCpus and PidsLimit (the OCI runtime spec's config-linux.md, chapter 04's cgroup files)?
  //   5. --init: where must the init be inside the container (lib/engine.ts), how does it get there from the
  //      host (native/helper.ts), and what runs it?
  //   6. Capabilities, no_new_privs, the seccomp profile, masked and read-only paths come from
  //      lib/docker-security.ts's daemonSecurity().
  throw new NotImplementedError('11-daemon', 'runtimeSpec')
}
// #endregion runtimeSpec

// #region startTask
/**
 * Run `c` in containerd, with the same ID, its spec, `rootfs` and the FIFOs of `io`, and
 * return the PID of its process. `beforeStart` gets that PID while the process exists in its
 * new namespaces but has not run its command yet (the moment dockerd wires the network, with
 * libnetwork's prestart hook). A failure after containerd knows the container must not leave
 * it behind (the next start would meet "already exists").
 */
export async function startTask(containerd: Containerd, c: Container, spec: FullSpec, rootfs: Mount[], io: TaskIO, beforeStart: (pid: number) => Promise<void> = async () => {}): Promise<number> {
  // TODO(11): run the container through containerd (libcontainerd/remote/client.go Create and Start).
  //   1. containerd keeps two things apart: the container (metadata: the spec, the runtime) and the task (the
  //      running process). Which services of lib/containerd.ts make each, in which order, and which fields of
  //      their messages does a run need? How does a JSON spec travel in a google.protobuf.Any?
  //   2. runc runs a container in two steps (runc create, runc start): which of containerd's calls maps to
  //      each, which one gives you the PID, and where between them does beforeStart go?
  //   3. If a step after the first fails, what must you undo so that a second start can work?
  throw new NotImplementedError('11-daemon', 'startTask')
}
// #endregion startTask

// #region deleteTask
/**
 * Forget the container in containerd, its task and its metadata alike, so that the same ID can
 * run again. Either may be gone already (a failed start, a second removal): that is no error,
 * while every other failure is.
 */
export async function deleteTask(containerd: Containerd, id: string): Promise<void> {
  // TODO(11): forget the task, then the containerd container (libcontainerd/remote/client.go Delete, DeleteTask).
  //   1. What does deleting the task make the shim do (the output, the rootfs, the cgroup)?
  //   2. containerd answers something it does not know with a gRPC status of its own (lib/containerd.ts
  //      names it): why is only that one no error here?
  throw new NotImplementedError('11-daemon', 'deleteTask')
}
// #endregion deleteTask

// #region subscribeEvents
/**
 * containerd's events that match `filters` (Events.Subscribe), resolved only once containerd
 * has the subscription in place: every event containerd publishes after the promise resolves
 * reaches `onEnvelope`, in order, and nothing but what `filters` ask for ever does. `onEnd`
 * hears of a stream that ends by itself afterwards; one that ends (or cannot be confirmed)
 * before then rejects the promise instead.
 */
export function subscribeEvents(containerd: Containerd, filters: string[], onEnvelope: (envelope: Envelope) => void, onEnd: (error: Error) => void): Promise<Subscription> {
  // TODO(11): a subscription you can count on (the text's "Is the subscription in place?").
  //   1. lib/containerd.ts's events.Subscribe returns at once: what has containerd done by then? Read Subscribe
  //      in containerd's services/events and its events/exchange: when is a subscriber registered, and what
  //      does the stream carry before the first event (gRPC headers included)?
  //   2. What could this process make containerd do that it would then see on this very stream, and only
  //      once the subscription is in place? Several daemons may share the namespace: how do you know it is
  //      yours?
  //   3. Whatever you send before the subscription is in place reaches no one, and nothing tells you so.
  //   4. Nothing of your own may reach onEnvelope; a stream that ends, or a call that fails, before you are
  //      sure rejects, and onEnd stays for later. Does moby's libcontainerd (processEventStream) do any of this?
  throw new NotImplementedError('11-daemon', 'subscribeEvents')
}
// #endregion subscribeEvents

/** Send `signal` (a number) to the task's process. */
export async function killTask(containerd: Containerd, id: string, signal: number): Promise<void> {
  await containerd.tasks.Kill({ container_id: id, signal, all: false })
}
