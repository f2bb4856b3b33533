/**
 * `docker run` as the docker CLI makes it (cli/command/container run.go): the order of its
 * requests, the end of the run, and which of its answers decides what, on every way out. The
 * attach's streams and the signal proxy are this chapter's too (streamHijacked, hijack.ts, on
 * copyOutput, stdcopy.ts; proxySignals, signals.ts); the steps around them are given: the
 * create and the pull (lib/create-or-pull.ts), the words and counts docker's client uses
 * (lib/cli-facts.ts), and the words of a failed run (lib/run-error.ts): minidocker/client.ts
 * puts what runContainer throws through runError, all but an AttachError (lib/client.ts).
 */
import type { Socket } from 'node:net'
import { ContainerError } from '../../lib/errors.ts'
import { decodeWait, FORCED_EXIT, NOT_A_TTY, waitFailure } from '../../lib/cli-facts.ts'
import { AttachError, readAll, type RunPlan, type Stdio } from '../../lib/client.ts'
import { createContainer } from '../../lib/create-or-pull.ts'
import type { ProgressSink } from '../../lib/jsonmessage.ts'
import { proxySignals } from './signals.ts'
import { streamHijacked, type Streams } from './hijack.ts'
import type { Engine } from '../../lib/engine-client.ts'

// #region runContainer
/**
 * The whole `run`: the container created (its image pulled if missing), its output on the
 * client's stdout and stderr from the first byte, and the exit code the daemon reports for
 * it. No output may be lost, not even a first line written at once; a container that exits
 * at once (and with --rm is removed at once) must still be seen to exit. With -i the
 * container reads the client's stdin to its end; without, it reads none;
 * either way the output still comes. -d prints the ID alone on stdout. With -it, the
 * detach keys typed leave the container running and end the client as they end docker's.
 * A caller that aborts `cancel` (minidocker's own CLI never does) gets the run's end as soon
 * as it can come, rejected with the abort's reason, and no container of the run's is left.
 */
export async function runContainer(engine: Engine, plan: RunPlan, stdio: Stdio, progress: ProgressSink, cancel?: AbortSignal): Promise<number> {
  // -it lends a terminal the client must have: the CLI looks before it asks the daemon for
  // anything (run.go, CheckTty), and says so as it is, not as a failed run
  if (!plan.detach && plan.interactive && plan.tty && stdio.stdin.isTTY !== true) throw new AttachError(NOT_A_TTY)
  cancel?.throwIfAborted()
  // a cancel cuts the pull, but a create once sent is awaited: only its answer tells whether
  // there is a container to remove, and which
  const id = await createContainer(engine, plan, stdio, progress, cancel).catch((error) => {
    throw cancel?.aborted ? cancel.reason : error
  })
  try {
    const code = await attachAndStart(engine, plan, stdio, id, cancel)
    cancel?.throwIfAborted()
    return code
  } catch (error) {
    if (!cancel?.aborted) throw error
    // whatever the run had come to, what it made goes: docker rm -f's request
    await engine.call('DELETE', `/containers/${id}`, { query: { force: '1' } }).then((response) => void response.resume(), () => {})
    throw cancel.reason
  }
}
// #endregion runContainer

/** The run once its container exists: attach, wait and start, and the end that decides the exit code. */
async function attachAndStart(engine: Engine, plan: RunPlan, stdio: Stdio, id: string, cancel?: AbortSignal): Promise<number> {
  // -d: the ID as soon as the container exists (the CLI prints it from a goroutine of its own,
  // run.go's waitDisplayID), whatever the start does next
  if (plan.detach) stdio.stdout.write(`${id}\n`)
  const condition = plan.autoRemove ? 'removed' : 'next-exit'
  let attached: Socket | undefined
  let streams: Streams | undefined
  if (!plan.detach) {
    const query = { stream: '1', stdout: '1', stderr: '1', stdin: plan.interactive ? '1' : undefined, detachKeys: plan.detachKeys || undefined }
    attached = await engine.upgrade(`/containers/${id}/attach`, { query, signal: cancel }).catch((error) => {
      throw error instanceof ContainerError ? new AttachError(error.message) : error
    })
    streams = streamHijacked(engine, attached, stdio, { tty: plan.tty, interactive: plan.interactive, resizePath: `/containers/${id}/resize`, detach: plan.detachKeys ?? '' })
  }
  const waiting = await engine.call('POST', `/containers/${id}/wait`, { query: { condition }, signal: cancel }).catch((error) => {
    attached?.destroy()
    streams?.release()
    throw error
  })
  const status = readAll(waiting).then(decodeWait)
  // the wait's answer may come before start's, before the output's end, or never: a failed one is
  // told as it comes (the CLI's waitExitOrRemoved logs from a goroutine of its own) and ends the
  // run with 125, but only once the output has ended; one the client drops itself is no failure
  let dropped = false
  const waitFailed = (problem: Parameters<typeof waitFailure>[0]) => (stdio.stderr.write(waitFailure(problem)), 125)
  const exitCode = status.then(
    (result) => (result.Error?.Message ? waitFailed({ daemon: result.Error.Message }) : result.StatusCode),
    (failure: unknown) => (dropped ? 125 : waitFailed({ failure })),
  )
  // what the wait said, once it has said it: a detach after that reports it
  let known: number | undefined
  void exitCode.then((code) => (known = code))
  // all are awaited later; until then a failure must not count as unhandled
  status.catch(() => {})
  // the client lets go of the attach and the wait at once when it gives up on a container that
  // ignores what it was sent, or when its caller cancels: every await below then settles
  const letGo = () => {
    dropped = true
    attached?.destroy()
    waiting.destroy()
  }
  cancel?.addEventListener('abort', letGo)
  const cleanups: (() => void)[] = [() => cancel?.removeEventListener('abort', letGo)]
  if (streams) cleanups.push(streams.release)
  // the CLI's main ends the process at the third signal, wherever the run is: here the give-up
  // cuts the start too, which may not have answered yet
  const givingUp = new AbortController()
  const giveUp = () => {
    givingUp.abort()
    letGo()
  }
  const gaveUp = () => new AttachError(FORCED_EXIT.words)
  // before start, as the CLI does: a signal that comes with the first output must find the proxy.
  // With -t too: a SIGTERM or SIGHUP to the client goes to the container, and the client lives on
  if (attached && plan.sigProxy) cleanups.push(proxySignals(engine, id, giveUp))
  try {
    try {
      await engine.json('POST', `/containers/${id}/start`, { signal: cancel ? AbortSignal.any([cancel, givingUp.signal]) : givingUp.signal })
    } catch (error) {
      // the container may run all the same (a start refused once it had begun): with --rm the CLI
      // waits for the daemon to remove it, its output copied to the end; without, nothing may hold
      // the client open
      if (plan.autoRemove) await Promise.all([exitCode, streams?.done.catch(() => {})])
      else dropped = true
      attached?.destroy()
      streams?.release() // the terminal given back before the error is printed
      throw givingUp.signal.aborted ? gaveUp() : error
    }
    if (plan.detach) {
      dropped = true
      waiting.destroy() // the CLI drops the wait once the container runs
      return 0
    }
    streams?.resize()
    // the output to its end first, whichever came first: its end is not the container's exit (a
    // daemon may close the attach while the container runs on), nor is the wait's answer its end.
    // An attach the daemon cuts (reset, not ended) is an end of the output like any other
    const how = await streams?.done.catch((error: unknown) => ({ error }))
    if (how === 'detached') {
      dropped = true
      attached!.destroy()
      waiting.destroy()
      // the container runs on and the CLI says nothing; but if the wait has answered already (the
      // container exited, its last output still on its way), the detach reports its exit code
      return known ?? 0
    }
    const broken = typeof how === 'object' && known === undefined ? how.error : undefined
    streams?.release()
    // cmd/docker's words, printed as it exits: the container runs on
    if (givingUp.signal.aborted) throw gaveUp()
    // a stream the reader refused (the daemon's error in it, frames it cannot read) before the
    // wait answered is the run's error, and the wait is not read (run.go's select: the hijack's
    // error first); one that comes after the wait's answer is drained, and the exit code stands.
    // A connection that merely ended or broke is no error of the run's
    if (broken instanceof ContainerError) {
      dropped = true
      waiting.destroy()
      throw new AttachError(broken.message)
    }
    return await exitCode
  } finally {
    for (const cleanup of cleanups) cleanup()
  }
}
