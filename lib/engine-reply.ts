/**
 * Chapter 11's given answers, which the starter and the reference share: a JSON response and
 * an error with the Engine headers and the status the chapter's api.ts gives them, and the
 * hijack of `docker exec`'s start.
 */
import type { ServerResponse } from 'node:http'
import { engineHeaders, errorStatus } from '#ch/11-daemon/api.ts'
import type { DaemonBase } from './engine-daemon.ts'
import { writeUpgradeHead, type EngineCall } from './engine-http.ts'
import { EngineError } from './engine.ts'

/** A JSON response with the Engine headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`
  res.writeHead(status, { ...engineHeaders(), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

/** Answer `error` as dockerd does: its status and `{"message": ...}`; the CLI prints "Error response from daemon: MESSAGE". */
export function sendError(res: ServerResponse, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  if (res.headersSent) {
    res.destroy() // the stream already started: all that is left is to cut it
    return
  }
  sendJson(res, errorStatus(error), { message })
}

/** `POST /exec/{id}/start`: the 101 (with the Engine headers, as dockerd sends them here), then the exec's stream. */
export function execStartRoute(daemon: DaemonBase, call: EngineCall, id: string): void {
  const exec = daemon.execs.get(id)
  if (!exec) throw new EngineError(404, `No such exec instance: ${id}`)
  if (exec.Running || exec.ExitCode !== null) throw new EngineError(409, `Exec ${id} has already run`)
  writeUpgradeHead(call.socket!, { ...engineHeaders(), 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'Upgrade', Upgrade: 'tcp' })
  void daemon.startExec(exec, call.socket!).catch(() => call.socket!.destroy())
}
