/**
 * Chapter 11: the two requests that take over their connection. The other routes are given
 * (lib/engine-routes.ts); this is where an HTTP exchange stops being one.
 */
import { writeUpgradeHead, type EngineCall } from '../../lib/engine-http.ts'
import { engineHeaders, EngineError } from '../../lib/engine-api.ts'
import { execToStart } from '../../lib/engine-reply.ts'
import { flag } from '../../lib/engine.ts'
import { frame, readLog, streamed } from '../../lib/output-streams.ts'
import type { Daemon } from './daemon.ts'

// #region attachRoute
/**
 * The two requests that take over their connection (`Upgrade: tcp`): `POST
 * /containers/{id}/attach` (a container's streams, the daemon's attach()) and `POST
 * /exec/{id}/start` (an exec's, the daemon's startExec(); execToStart, given, finds the exec).
 * Each is answered with the upgrade the docker CLI accepts, as dockerd writes it for each, and
 * the socket is then the stream's. Anything else asking to upgrade is refused as a route this
 * daemon does not have.
 */
export function attachRoute(daemon: Daemon, call: EngineCall, path: string): void {
  const upgraded = { 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'Upgrade', Upgrade: 'tcp' }
  const execMatch = /^\/exec\/([a-f0-9]{64})\/start$/.exec(path)
  if (call.method === 'POST' && execMatch) {
    const exec = execToStart(daemon, execMatch[1]!)
    writeUpgradeHead(call.socket!, { ...engineHeaders(), ...upgraded }) // dockerd's exec start carries the Engine headers, its attach does not
    return void daemon.startExec(exec, call.socket!).catch(() => call.socket!.destroy())
  }
  const match = /^\/containers\/([^/]+)\/attach$/.exec(path)
  if (call.method !== 'POST' || !match) throw new EngineError(501, `minidockerd does not implement ${call.method} ${path} with an upgrade`)
  const c = daemon.get(match[1]!)
  const want = { stdin: flag(call.query, 'stdin'), stdout: flag(call.query, 'stdout'), stderr: flag(call.query, 'stderr') }
  writeUpgradeHead(call.socket!, upgraded)
  // logs: what the container wrote before, from its log, in the form of its stream (moby daemon/attach.go containerAttach)
  if (flag(call.query, 'logs')) {
    const { entries } = readLog(c.LogPath, { stdout: want.stdout, stderr: want.stderr, tail: 'all', since: 0, timestamps: false })
    for (const chunk of streamed(entries, c.Config.Tty)) call.socket!.write(chunk)
  }
  // stream=0: nothing after the request, so the answer ends here, whether the container runs or not
  if (!flag(call.query, 'stream')) return void call.socket!.end()
  // the hand-over: the log holds complete lines only, and the stream brings what comes from now on. The line the
  // container is in the middle of is in neither, so it goes here, in this same turn of the loop as the rest
  if (flag(call.query, 'logs')) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = want[stream] ? daemon.unfinished(c, stream) : Buffer.alloc(0)
      if (rest.length > 0) call.socket!.write(c.Config.Tty ? rest : frame(stream, rest))
    }
  }
  daemon.attach(c, call.socket!, want)
}
// #endregion attachRoute
