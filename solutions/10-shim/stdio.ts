/**
 * The container's stdio. containerd (or ctr) makes a FIFO for each of stdin, stdout and stderr
 * and hands the shim their paths; the container gets pipes, and the shim copies between them.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs'
import { Socket } from 'node:net'
import { Transform, type Readable, type Writable } from 'node:stream'
import { openOutput, outputRead } from '../../lib/shim.ts'

/** The FIFO paths containerd sends in Create and Exec ('' for none). */
export interface StdioPaths {
  stdin: string
  stdout: string
  stderr: string
}

/** The container side: the shim's ends of the pipes given to the runtime ('ignore' ones are null). */
export interface ProcessPipes {
  stdin: Writable | null
  stdout: Readable | null
  stderr: Readable | null
}

export interface Copying {
  /** settles when stdout and stderr have reached end-of-file, their FIFOs are closed and read */
  done: Promise<void>
  /** close the process's stdin (CloseIO): it reads end-of-file */
  closeStdin(): void
  /** a count that grows whenever output moves on towards its reader, and stands still when it does not */
  readonly progress: number
  /** Delete: the process is gone for good, and so is whoever would still read or write its stdio */
  close(): void
}

// #region copyStdio
/**
 * Copy stdin's FIFO into the process and the process's stdout and stderr into their FIFOs.
 * No open may block the shim: a FIFO's open waits for the other side, which may never come.
 * An output FIFO is closed once the process's pipe reaches end-of-file, so the reader sees
 * end-of-file too; until it is open, output waits in the process's pipe. The copy is done
 * only once the reader has read what the FIFO holds (outputRead). The stdin FIFO is
 * opened read-only and non-blocking; epoll reports it only once a writer has come, and
 * end-of-file once the writer has gone, which is then passed on; CloseIO passes on what the
 * FIFO still holds before it ends the process's stdin. Streams are sockets over the
 * fds (epoll), never fs streams, whose blocking reads hold a thread and keep Node from exiting.
 */
export function copyStdio(paths: StdioPaths, pipes: ProcessPipes): Copying {
  const outputs: Promise<void>[] = []
  let progress = 0 // chunks taken from the pipes, and reads of what the FIFOs still held
  // a copy whose reader stopped never ends by itself: it holds the pipe, the FIFO and its read end until Delete
  const closing = new AbortController()
  const releases: (() => void)[] = []
  for (const name of ['stdout', 'stderr'] as const) {
    const source = pipes[name]
    if (!source) continue
    if (!paths[name]) {
      source.resume() // nobody reads: drain, so the process never blocks on a full pipe
      releases.push(() => source.destroy())
      // a quick exec may be over, its pipe closed, before the runtime's exec returned
      outputs.push(new Promise((resolve) => (source.destroyed ? resolve() : source.once('close', resolve))))
      continue
    }
    outputs.push(
      openOutput(paths[name], closing.signal).then(({ fifo, keeper }) => {
        let held = true
        const letGo = () => {
          if (held) closeSync(keeper) // once: by a second time, its number may be another file's
          held = false
        }
        // a pipe gives up to 64 KiB at a time, which a slow reader takes for seconds: pass it on a page
        // at a time, so that what the reader takes is seen as it goes
        const pages = new Transform({
          transform(chunk: Buffer, _encoding, next) {
            for (let i = 0; i < chunk.length; i += 4096) this.push(chunk.subarray(i, i + 4096))
            next()
          },
        })
        fifo.on('error', () => (source.unpipe(pages), source.resume())) // a FIFO that fails costs its output, not the shim
        source.pipe(pages).pipe(fifo) // also ends the FIFO when the pipe has ended already: a quick exec is over before exec --detach returns
        pages.on('data', () => progress++) // paused while the FIFO is full: a reader that stops, stops it
        releases.push(() => {
          source.unpipe(pages)
          for (const stream of [source, pages, fifo]) stream.destroy()
          letGo()
        })
        return new Promise<void>((resolve) => fifo.once('close', resolve))
          .then(() => (closing.signal.aborted ? undefined : outputRead(paths[name], undefined, () => progress++))) // ctr closes its end once told of the exit: let it read first
          .then(letGo)
      }, (error) => {
        if (!closing.signal.aborted) throw error
        source.destroy() // closed before a reader came
      }),
    )
  }
  let input: { socket: Socket; fd: number } | undefined
  if (paths.stdin && pipes.stdin) {
    const fd = openSync(paths.stdin, constants.O_RDONLY | constants.O_NONBLOCK)
    input = { socket: new Socket({ fd, readable: true, writable: false }), fd }
    input.socket.on('error', () => pipes.stdin?.end())
    pipes.stdin.on('error', () => input?.socket.destroy())
    input.socket.pipe(pipes.stdin)
  } else pipes.stdin?.end()
  return {
    done: Promise.all(outputs).then(() => undefined),
    get progress() {
      return progress
    },
    close() {
      closing.abort()
      for (const release of releases.splice(0)) release()
      input?.socket.destroy()
      pipes.stdin?.destroy()
    },
    closeStdin() {
      // ctr sends CloseIO as soon as its own stdin ends: its last bytes may still be in the
      // FIFO, unread, or read but not yet passed on. They go first.
      if (input && pipes.stdin && !input.socket.destroyed) {
        input.socket.unpipe(pipes.stdin)
        for (let chunk: Buffer | null; (chunk = input.socket.read() as Buffer | null) !== null; ) pipes.stdin.write(chunk)
        for (const buffer = Buffer.alloc(65536); ; ) {
          let n = 0
          try {
            n = readSync(input.fd, buffer)
          } catch {} // EAGAIN: the FIFO is empty
          if (n === 0) break
          pipes.stdin.write(Buffer.from(buffer.subarray(0, n)))
        }
        input.socket.destroy()
      }
      pipes.stdin?.end()
    },
  }
}
// #endregion copyStdio
