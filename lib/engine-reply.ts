/**
 * Chapter 11's given answers, which the starter and the reference share: a JSON response and
 * an error with the Engine headers and the status the chapter's api.ts gives them, and the
 * exec a `docker exec`'s start names.
 */
import type { ServerResponse } from 'node:http'
import { engineHeaders, errorStatus } from './engine-api.ts'
import type { DaemonBase, Exec } from './engine-daemon.ts'
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

/** The exec a `POST /exec/{id}/start` names, if it may start: none is a 404, one that has run (or runs) a 409. */
export function execToStart(daemon: DaemonBase, id: string): Exec {
  const exec = daemon.execs.get(id)
  if (!exec) throw new EngineError(404, `No such exec instance: ${id}`)
  if (exec.Running || exec.ExitCode !== null) throw new EngineError(409, `Exec ${id} has already run`)
  return exec
}
