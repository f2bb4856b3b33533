/**
 * The signal proxy in a process of its own, for signals.test.ts, whose signals the test
 * sends: with listeners of its own on two signals, it proxies this process's signals to
 * container `id` of the daemon at `host`, prints "ready", and "@gave up" whenever the proxy
 * gives up. A line "stop" on stdin stops the proxy; it then prints "@stopped" and the
 * listeners on process that the proxy left changed, sends itself SIGPIPE and SIGXFSZ, and stops
 * reading stdin, so that it ends on its own, with 0, if the proxy left the process as it found
 * it. The Engine stays open, as in a program that goes on running containers through it: its idle kept-alive connections hold no process, a request
 * still waiting for its answer does.
 */
import { constants } from 'node:os'
import { Engine } from '../../lib/engine-client.ts'
import { proxySignals } from '#ch/12-client/signals.ts'

const [host, id] = process.argv.slice(-2) as [string, string]
const SIGNALS = Object.keys(constants.signals)
/** Sent once the proxy has stopped (the text's "As they were"). */
const AFTER_STOP = ['SIGPIPE', 'SIGXFSZ'] as const
const listeners = () => new Map(SIGNALS.map((name) => [name, process.listenerCount(name)]))

async function main() {
  const engine = await Engine.connect(host)
  // a long-lived program has listeners of its own before any run (a terminal UI's on SIGWINCH, a
  // reload on SIGUSR2): they do nothing here, and must outlive the proxy's stop
  for (const signal of ['SIGWINCH', 'SIGUSR2'] as const) process.on(signal, () => {})
  const before = listeners()
  const stop = proxySignals(engine, id, () => process.stdout.write('@gave up\n'))
  process.stdout.write('ready\n')
  process.stdin.on('data', function stopping(chunk: Buffer) {
    if (!String(chunk).includes('stop')) return
    stop()
    const after = listeners()
    const changed = SIGNALS.filter((name) => after.get(name) !== before.get(name)).map((name) => `${name} ${before.get(name)} → ${after.get(name)}`)
    process.stdout.write(`@stopped ${JSON.stringify(changed)}\n`)
    for (const signal of AFTER_STOP) process.kill(process.pid, signal)
    process.stdin.off('data', stopping).pause()
  })
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).message}\n`)
  process.exitCode = 2
})
