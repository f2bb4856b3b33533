/**
 * Chapter 11's given stdio of an exec (`docker exec`): one client, one process that starts
 * right after its FIFOs are made and is gone when its request ends. The container's own
 * process has none of these shortcuts: its stdio outlives clients, starts and the daemon.
 */
import { execFileSync } from 'node:child_process'
import { constants, openSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Exec } from './engine-daemon.ts'
import type { Containerd } from './containerd.ts'
import { frame, outputReaders, type OutputReader } from './output-streams.ts'

export interface ExecStdio {
  /** the FIFOs, as Tasks.Exec takes them ('' for a stream the exec does not have) */
  paths: { stdin: string; stdout: string; stderr: string }
  readers: OutputReader[]
  /** the process runs: what the client sent so far goes to it, and the rest as it comes */
  running(): void
  /** the FIFOs are no longer needed */
  remove(): void
}

/**
 * The FIFOs of `exec` in `dir`, its output framed (raw with a tty) to the hijacked `socket`,
 * and the client's input kept until the process runs, and ended for the process once the
 * client's has ended and the process runs.
 */
export function execStdio(dir: string, exec: Exec, socket: Duplex, containerd: Containerd): ExecStdio {
  const name = (stream: string) => join(dir, `${exec.ID}-${stream}`)
  const paths = { stdout: name('stdout'), stderr: exec.Tty ? '' : name('stderr'), stdin: exec.AttachStdin ? name('stdin') : '' }
  execFileSync('mkfifo', ['-m', '600', ...Object.values(paths).filter(Boolean)])
  const wanted = new Set([...(exec.AttachStdout ? ['stdout'] : []), ...(exec.AttachStderr ? ['stderr'] : [])])
  const readers = outputReaders({ stdout: paths.stdout, stderr: paths.stderr || undefined }, (stream, chunk) => {
    if (wanted.has(stream)) socket.write(exec.Tty ? chunk : frame(stream, chunk))
  })
  const kept: Buffer[] = []
  let ended = false
  let input: Socket | undefined
  let runs = false
  if (paths.stdin) {
    socket.on('data', (chunk: Buffer) => (input ? input.write(chunk) : kept.push(chunk)))
    socket.on('end', () => {
      ended = true
      if (runs) finish()
    })
  }
  const finish = () => {
    input?.end()
    void containerd.tasks.CloseIO({ container_id: exec.ContainerID, exec_id: exec.ID, stdin: true }).catch(() => {})
  }
  socket.resume()
  return {
    paths, readers,
    running() {
      runs = true
      if (!paths.stdin) return
      try {
        input = new Socket({ fd: openSync(paths.stdin, constants.O_WRONLY | constants.O_NONBLOCK), readable: false, writable: true })
        input.on('error', () => {})
        for (const chunk of kept.splice(0)) input.write(chunk)
      } catch {
        kept.length = 0 // the process has gone already
      }
      if (ended) finish()
    },
    remove() {
      input?.destroy()
      for (const path of Object.values(paths)) if (path) rmSync(path, { force: true })
    },
  }
}
