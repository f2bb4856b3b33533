/**
 * Chapter 11: minidockerd's containers, as dockerd runs them (moby daemon/start.go,
 * daemon/monitor.go, daemon/attach.go, daemon/wait.go, daemon/delete.go): the life of a
 * container from create to rm, its output fanned out to the log and to every attached
 * client, and the exit that wakes the waiters. The HTTP side is in routes.ts.
 */
import { NotImplementedError } from '../../lib/errors.ts'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { createContainerLayers } from '#ch/05-layers/init.ts'
import { overlayDirs } from '#ch/05-layers/driver.ts'
import { overlayOptions } from '#ch/05-layers/overlay.ts'
import { imageLayers, resolveImage, storePaths, imageConfig } from '#ch/06-images/store.ts'
import { PROCESS_TYPE_URL, type Mount } from '../../lib/containerd.ts'
import { recordContainer } from '../../lib/image.ts'
import { DaemonBase, type Exec } from '../../lib/engine-daemon.ts'
import { badRequest, conflict, EngineError } from './api.ts'
import { newContainer, ZERO_TIME, type Container, type ContainerConfig, type HostConfig } from './records.ts'
import { frame, logWriter, outputReaders, type StreamName } from './streams.ts'
import { deleteTask, killTask, runtimeSpec, startTask, waitTask, type TaskIO } from './tasks.ts'

export type { DaemonOptions, Exec } from '../../lib/engine-daemon.ts'

/** The life of a container; what is not the chapter's subject is given in DaemonBase (lib/engine-daemon.ts). */
export class Daemon extends DaemonBase {
  // #region create
  /**
   * `POST /containers/create`: the image must be in the store (else 404 "No such image: REF",
   * which makes the CLI pull and ask again); the container gets its record and its own two
   * layers on top of the image's, and the image is marked in use so rmi refuses it.
   */
  async create(body: Partial<ContainerConfig> & { HostConfig?: HostConfig }, name: string | undefined, imageRef: (ref: string) => string): Promise<Container> {
    // TODO(11): POST /containers/create (moby daemon/create.go).
    //   1. Find the image in chapter 06's store by the reference as the store tags it (imageRef): what must a
    //      missing image answer for the CLI to pull it and try again?
    //   2. The network mode: networkOf (given) refuses what this daemon cannot honour. Before or after the
    //      first thing you make? Security options dockerd refuses (an unknown capability) are refused here
    //      too, with a 400: lib/docker-security.ts's daemonSecurity() throws on them (chapter 13).
    //   3. What does a container own before it ever runs (records.ts, chapter 05's layers), and what must stop
    //      `docker rmi` from taking its image away? If a step fails, nothing of the container may stay behind.
    throw new NotImplementedError('11-daemon', 'create')
  }
  // #endregion create

  // #region start
  /**
   * `POST /containers/{id}/start`: the container runs on its own layers with its network, its
   * output reaches the log and every attached client from the first byte, and its exit will be
   * noticed. Starting a running container is a 304; a start that fails leaves nothing running,
   * open or connected behind.
   */
  async start(c: Container): Promise<'started' | 'already'> {
    // TODO(11): POST /containers/{id}/start (moby daemon/start.go, the text's "Start, and the FIFOs").
    //   1. What answers a start of a running container?
    //   2. The shim writes the output into FIFOs you create: which ones, with and without a tty and stdin?
    //      Your read ends (outputReaders, streams.ts) must be open before which call of startTask, and why?
    //   3. Who gets each chunk of output, and in which form (streams.ts)?
    //   4. The rootfs: how does containerd's shim get the container's layers (chapter 05), and in which form?
    //      The network (connect, given) needs the process, and must be there before its command runs: when is
    //      that, in startTask? What must the record say afterwards, what happens to stdin that came early, and
    //      who notices the exit? A failed start: what have you opened by then, and what does `docker run --rm`
    //      wait for?
    throw new NotImplementedError('11-daemon', 'start')
  }
  // #endregion start

  // #region monitor
  /**
   * After the exit: the record says how the container ended, containerd and the network hold
   * nothing of it any more, and the attached clients and waiters hear of it, but never before
   * every byte it wrote has reached the log and them; with AutoRemove the container then goes.
   */
  protected async monitor(c: Container, readers: { socket: Socket; drained: Promise<void> }[], log: ReturnType<typeof logWriter>): Promise<void> {
    // TODO(11): the exit (moby daemon/monitor.go handleContainerExit).
    //   1. When has all of the output reached your FIFO readers, and when do they see end-of-file?
    //   2. What is there to clean up, and in which order? What would a client of `docker run --rm` see if the
    //      waiters woke before the output was drained, and what would the next `docker run -p` on the same port
    //      meet if the exit were announced before the network was undone?
    throw new NotImplementedError('11-daemon', 'monitor')
  }
  // #endregion monitor

  // #region attach
  /**
   * A hijacked connection joins the container's output: the streams asked for, framed unless
   * the container has a tty. With `stdin`, what the client sends goes to the container's
   * stdin (kept until the task runs), and the client's half-close ends it. A container that
   * is not running is joined all the same: its next start feeds the stream (`docker start -a`
   * attaches first, then starts), and its exit ends it.
   */
  attach(c: Container, socket: Duplex, want: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
    // TODO(11): a hijacked connection joins the container (moby daemon/attach.go).
    //   1. Which streams did the client ask for? `docker start -a` attaches to an exited container, then starts it.
    //   2. stdin: the client may send it (and half-close) before the container starts. Where does it wait?
    //      What does the half-close mean for the container, and what must a client WITHOUT stdin's half-close
    //      not do to your writing?
    //   3. A client that goes away must stop receiving.
    throw new NotImplementedError('11-daemon', 'attach')
  }
  // #endregion attach

  // #region wait
  /**
   * The exit code once `condition` holds: "not-running" (now, if the container is not
   * running), "next-exit" (the next exit), "removed" (once the container is gone). Anything
   * else is a 400 "invalid condition". The caller has sent its headers already.
   */
  wait(c: Container, condition: string): { done: Promise<number>; cancel(): void } {
    // TODO(11): the three wait conditions (moby daemon/wait.go, the API reference's ContainerWait).
    //   1. Which condition is answered at once for a container that is not running, and which only at the next
    //      exit or at the removal? What answers an unknown condition?
    //   2. A client that goes away (docker run -d drops its wait) must not leave a listener behind.
    throw new NotImplementedError('11-daemon', 'wait')
  }
  // #endregion wait

  // #region stop
  /**
   * `docker stop`: the container's process gets the chance to shut down cleanly, and is ended
   * by force if it is still running `timeout` seconds later (docker-stop(1)); resolves once it
   * has exited. A container that is not running: 'not running' (a 304).
   */
  async stop(c: Container, timeout: number): Promise<'stopped' | 'not running'> {
    // TODO(11): docker stop (moby daemon/stop.go).
    //   1. Which signal lets a process shut down, and which one can it not ignore (signal(7))? How do you wait
    //      for "exited or timed out", whichever comes first? The request returns once the container has exited.
    //   2. What does stopping a container that is not running answer?
    throw new NotImplementedError('11-daemon', 'stop')
  }
  // #endregion stop

  // #region remove
  /**
   * `docker rm`: a running container is a 409 ("You cannot remove a running container ID.
   * Stop the container before attempting removal or force remove") unless forced, then it is
   * killed and its exit awaited first. Its layers, its folder and its record go; the
   * "removed" waiters wake. Removing twice at once removes once.
   */
  remove(c: Container, force: boolean): Promise<void> {
    // TODO(11): docker rm (moby daemon/delete.go).
    //   1. When is a running container refused (the doc comment has the words), and what does force do first?
    //   2. What goes: the record, the folder, the layers, the image's "in use" mark. Who waits for the removal?
    //   3. `docker run --rm` removes through AutoRemove while the CLI may send its own rm: remove only once.
    throw new NotImplementedError('11-daemon', 'remove')
  }
  // #endregion remove

  // #region startExec
  /**
   * `POST /exec/{id}/start` on a hijacked socket: run the exec's command as one more process of
   * the running container (in its namespaces, as its user unless the exec names one, with the
   * exec's env added and directory), stream its output to `socket` as attach does, and end the
   * socket once it has exited and its output is drained; ExitCode then answers
   * `GET /exec/{id}/json`. An exec runs once: a second start is a 409.
   */
  async startExec(exec: Exec, socket: Duplex): Promise<void> {
    // TODO(11): docker exec (moby daemon/exec.go ContainerExecStart, libcontainerd's task.Exec).
    //   1. The exec's FIFOs and readers are as in start(), but its output goes only to this socket.
    //   2. Which call of containerd's tasks.proto adds a process to a running task, and what does it want: a whole
    //      OCI process, or only the command? Which parts come from the container's spec, which from the exec, and
    //      how is it carried (lib/containerd.ts)? How do Start and Wait tell the exec from the container's own?
    //   3. stdin: the shim holds the FIFO open itself; what ends the process's stdin, and when may you send it
    //      (what happens to bytes in a FIFO that nobody holds open any more)?
    //   4. The exit code is what GET /exec/ID/json reports; the socket ends after the output is drained.
    throw new NotImplementedError('11-daemon', 'startExec')
  }
  // #endregion startExec
}
