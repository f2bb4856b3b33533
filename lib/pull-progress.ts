/**
 * Docker's progress messages for a pull (given to chapter 07). dockerd streams a pull's progress to the client as
 * one JSON object per line (moby's pkg/jsonmessage); the client draws them, one line per id.
 *
 *   {"status":"Pulling from library/busybox","id":"latest"}
 *   {"status":"Pulling fs layer","progressDetail":{},"id":"9ad63333ebc9"}
 *   {"status":"Downloading","progressDetail":{"current":7746,"total":772788},
 *    "progress":"[>                                                  ]  7.746kB/772.8kB","id":"9ad63333ebc9"}
 *   {"status":"Verifying Checksum","progressDetail":{},"id":"9ad63333ebc9"}
 *   {"status":"Download complete","progressDetail":{},"id":"9ad63333ebc9"}
 *   {"status":"Extracting","progressDetail":{"current":32768,"total":772788},"progress":"...","id":"9ad63333ebc9"}
 *   {"status":"Pull complete","progressDetail":{},"id":"9ad63333ebc9"}
 *   {"status":"Digest: sha256:..."}
 *   {"status":"Status: Downloaded newer image for busybox:latest"}
 *
 * The message type and the size format are in jsonmessage.ts.
 */
import { humanSize, type JSONMessage, type ProgressSink } from './jsonmessage.ts'

/** Width of the bar between the brackets, as moby draws it. */
export const BAR_WIDTH = 50

// #region progressBar
/**
 * The "progress" text of a message, character for character as moby's JSONProgress.String()
 * (pkg/jsonmessage/jsonmessage.go) draws it for a wide terminal: the tests compare exact strings.
 * The first is the "Downloading" message of `docker pull busybox` above (a layer of 772788
 * bytes); the second is the same layer half way:
 *
 *   [>                                                  ]  7.746kB/772.8kB
 *   [=========================>                         ]  386.4kB/772.8kB
 *
 * String() also has an answer for a message without a total, for a count that runs past its
 * total, and for neither: read it for those.
 */
export function progressBar(current: number, total: number | undefined): string {
  if (total === undefined || total <= 0) return current <= 0 ? '' : humanSize(current).padStart(8)
  const filled = Math.min(BAR_WIDTH, Math.floor(Math.floor((current / total) * 100) / 2))
  const bar = `[${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled)}] `
  const numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`
  return bar + numbers
}
// #endregion progressBar

/** A status line for one id, without a bar ("Pulling fs layer", "Pull complete"). */
export const statusMessage = (id: string, status: string): JSONMessage => ({ status, progressDetail: {}, id })

/** A line with a bar ("Downloading", "Extracting"). */
export const progressMessage = (id: string, status: string, current: number, total: number): JSONMessage =>
  ({ status, progressDetail: { current, total }, progress: progressBar(current, total), id })

/** At most one "Downloading" or "Extracting" message per layer in this many ms (and always the last). */
export const PROGRESS_INTERVAL_MS = 100

/** A byte counter that reports `status` progress for `id`, at most every PROGRESS_INTERVAL_MS and always at the end. */
export function progressCounter(progress: ProgressSink, id: string, status: string, total: number): (chunk: Uint8Array) => void {
  let current = 0
  let last = 0
  return (chunk) => {
    current += chunk.length
    const now = Date.now()
    if (current >= total || now - last >= PROGRESS_INTERVAL_MS) {
      last = now
      progress(progressMessage(id, status, current, total))
    }
  }
}
