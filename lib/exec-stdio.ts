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
  /** called once the process runs */
  running(): void
  /** the FIFOs are no longer needed */
  remove(): void
}

/**
 * The FIFOs of `exec` in `dir`, its output framed (raw with a tty) to the hijacked `socket`,
 * and the client's input passed on to the process.
 */
export function execStdio(dir: string, exec: Exec, socket: Duplex, containerd: Containerd): ExecStdio {
  const name = (stream: string) => join(dir, `${exec.ID}-${stream}`)
  const paths = { stdout: name('stdout'), stderr: exec.Tty ? '' : name('stderr'), stdin: exec.AttachStdin ? name('stdin') : '' }
  execFileSync('mkfifo', ['-m', '600', ...Object.values(paths).filter(Boolean)])
  const wanted = new Set([...(exec.AttachStdout ? ['stdout'] : []), ...(exec.AttachStderr ? ['stderr'] : [])])
  const readers = outputReaders({ stdout: paths.stdout, stderr: paths.stderr || undefined }, (stream, chunk) => {
    if (wanted.has(stream)) socket.write(exec.Tty ? chunk : frame(stream, chunk))
  })
  let input: Socket | undefined
  if (!paths.stdin) socket.resume()
  return {
    paths, readers,
    running() {
      if (!paths.stdin) return
      try {
        input = new Socket({ fd: openSync(paths.stdin, constants.O_WRONLY | constants.O_NONBLOCK), readable: false, writable: true })
        input.on('error', () => {})
      } catch {
        return void socket.resume()
      }
      const into = input
      socket.on('data', (chunk: Buffer) => into.write(chunk))
      socket.once('end', () => {
        into.end()
        void containerd.tasks.CloseIO({ container_id: exec.ContainerID, exec_id: exec.ID, stdin: true }).catch(() => {})
      })
      socket.resume()
    },
    remove() {
      input?.destroy()
      for (const path of Object.values(paths)) if (path) rmSync(path, { force: true })
    },
  }
}
