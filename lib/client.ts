/**
 * Chapter 12's given pieces, shared by the starter and the reference: what `run` asks of the
 * client once the flags are parsed, the terminal it runs at, and an image name as the pull
 * query spells it.
 */
import { familiarName, parseReference } from '#ch/07-registry/reference.ts'
import { ContainerError } from './errors.ts'

/** `run` after flag parsing: the create body is built from the flags (minidocker/client.ts). */
export interface RunPlan {
  /** the image as typed */
  image: string
  name?: string
  /** the body of POST /containers/create: Image, Cmd, Env, Tty, OpenStdin, Attach*, HostConfig... */
  config: Record<string, unknown> & { HostConfig: Record<string, unknown> }
  /** -d */
  detach: boolean
  /** -i */
  interactive: boolean
  /** -t */
  tty: boolean
  /** --rm */
  autoRemove: boolean
  /** --sig-proxy (true unless --sig-proxy=false) */
  sigProxy: boolean
}

/** The client's own stdio: process.stdin and friends, or a test's streams. */
export interface Stdio {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown }
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

/**
 * An image name as `POST /images/create` takes it: the repository in `fromImage`, the tag (or
 * digest) in `tag`, and the familiar name the CLI shows ("busybox:latest").
 */
export function pullQuery(image: string): { fromImage: string; tag: string; familiar: string } {
  const ref = parseReference(image)
  return { fromImage: `${ref.domain}/${ref.path}`, tag: ref.digest ?? ref.tag!, familiar: familiarName(ref) }
}

/** The `X-Registry-Auth` of an anonymous pull: base64 of `{}`. */
export const ANONYMOUS_AUTH = 'e30='

/** The newest API version this client speaks: 1.41's streams and fields, as dockerd 20.10 serves them. */
export const CLIENT_API_VERSION = '1.41'

/** The version a daemon that sends no Api-Version header gets (moby's client falls back to it). */
export const FALLBACK_API_VERSION = '1.24'

/** Where the daemon listens when no host is named (minidockerd's default). */
export const DEFAULT_SOCKET = '/run/minidocker/minidocker.sock'

/** A request's query, body and extra headers. */
export interface RequestOptions {
  query?: Record<string, string | undefined>
  /** sent as JSON */
  body?: unknown
  headers?: Record<string, string>
}

/** The daemon answered with an error status: `message` is its `{"message"}`. */
export class DaemonError extends ContainerError {
  constructor(readonly status: number, readonly daemonMessage: string) {
    super(`Error response from daemon: ${daemonMessage}`, 1)
    this.name = 'DaemonError'
  }
}
