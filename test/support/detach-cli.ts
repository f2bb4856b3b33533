/**
 * docker 28.2.2's `run -it` in a pseudo-terminal against a fake daemon that accepts any attach
 * and records what the CLI sends on it: the witness for the detach keys, their names (given,
 * lib/detach-keys.ts) and the chapter's escape proxy. The daemons are the test file's own,
 * which it stops after each case.
 */
import { typeInTerminal } from './client.ts'
import { CLIS, dockerEnv } from './daemon.ts'
import { oneContainer, type fakeDaemons } from './engine-server.ts'

const ID = 'c0ffee'.repeat(10) + 'c0ff'

/**
 * `dockerTyped` on fake daemons made by `daemons`:
 * docker 28.2.2 `run -it [--detach-keys spec]` against a daemon whose container prints "ready"
 * and runs on (its wait never answers), typed at with `reads` once ready. Resolves with the
 * terminal's output, the exit code (undefined: still running `deadline` ms after the last
 * read) and the bytes the CLI sent on the attach connection. `client` puts another client's
 * command before `run` (given the daemon's host) in docker's place.
 */
export const typedAgainst = (daemons: ReturnType<typeof fakeDaemons>) => async function dockerTyped(spec: string | undefined, reads: (number | number[])[], deadline = 2500, env: Record<string, string> = {}, client: (host: string) => string[] = () => [CLIS['28.2.2']]): Promise<{ output: string; code?: number; sent: Buffer; stdinEnded: boolean }> {
  const sent: Buffer[] = []
  let stdinEnded = false
  let attach: import('node:net').Socket | undefined
  const daemon = await daemons.daemon({
    version: '1.41',
    answer: oneContainer(ID, { start: (res) => (res.writeHead(204).end(), attach?.write('ready\r\n')) }),
    upgrade: (_req, socket) => {
      attach = socket
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      socket.on('data', (chunk: Buffer) => sent.push(chunk))
      socket.on('end', () => (stdinEnded = true))
    },
  })
  const args = ['run', '-it', ...(spec === undefined ? [] : ['--detach-keys', spec]), 'example.test/box', 'sh']
  const typed = await typeInTerminal([...client(daemon.host), ...args], reads, { ready: 'ready', env: { ...dockerEnv(daemon.host), ...env }, deadline })
  return { ...typed, sent: Buffer.concat(sent), stdinEnded }
}


/** Reads as the tests name them in their messages: each read's bytes in hex. */
export const hex = (reads: (number | number[])[]) => reads.map((r) => Buffer.from(typeof r === 'number' ? [r] : r).toString('hex')).join(' ')
