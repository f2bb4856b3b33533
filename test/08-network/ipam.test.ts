import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { allocate, release } from '../../lib/addresses.ts'
import { processStart } from '../../lib/net.ts'
import { ContainerError, NotImplementedError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { onCleanup, tempDir } from '../support/files.ts'

/** A process that runs until the test kills it (or the test ends). */
function otherProcess(): { pid: number; kill(): Promise<void> } {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' })
  const exited = once(child, 'exit')
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  onCleanup(kill)
  return { pid: child.pid!, kill }
}

/** What `promise` resolves to, or the error it rejects with (a NotImplementedError is rethrown). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function outcome(promise: Promise<unknown>): Promise<any> {
  return promise.catch((error: unknown) => {
    if (error instanceof NotImplementedError) throw error
    return error
  })
}

describe('allocate and release', () => {
  it('six allocations from 10.0.0.0/29', async () => {
    const dir = tempDir()
    const leases = []
    for (let i = 0; i < 5; i++) leases.push(await allocate(dir, '10.0.0.0/29', process.pid))
    expect(leases.map((l) => l.address), 'the first five addresses a /29 gave: which of its 8 addresses can never be a container\'s? (RequestAddress in libnetwork\'s defaultipam; see "Addresses")').toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'])
    expect(leases[0], 'expected the lease to carry the prefix and the gateway (the Lease type in ipam.ts)').toMatchObject({ prefix: 29, gateway: '10.0.0.1' })
    const full = await caught(() => allocate(dir, '10.0.0.0/29', process.pid))
    expect(full, `a sixth allocation from 10.0.0.0/29 ${full === undefined ? 'got another address' : `threw ${String(full)}`}; expected a ContainerError (allocate's doc comment)`).toBeInstanceOf(ContainerError)
    expect(full.message, 'expected the error in allocate\'s doc comment\'s words, naming the subnet').toMatch(/no free address.*10\.0\.0\.0\/29/)
  })

  it('8 allocations at once from 10.0.1.0/24', async () => {
    const dir = tempDir()
    const leases = await outcome(Promise.all(Array.from({ length: 8 }, () => allocate(dir, '10.0.1.0/24', process.pid))))
    expect(leases, `8 allocations at once failed: ${String(leases)} — which steps must no other run come between? (see "Addresses")`).toBeInstanceOf(Array)
    const addresses = (leases as { address: string }[]).map((l) => l.address)
    expect(new Set(addresses).size, `8 allocations at once got ${addresses.join(', ')}: two read the same state before either wrote it — which steps must no other run come between? (see "Addresses")`).toBe(8)
  })

  it('allocate, release, allocate in a /30', async () => {
    const dir = tempDir()
    const first = await allocate(dir, '10.0.2.0/30', process.pid)
    await release(dir, first.address)
    const again = await outcome(allocate(dir, '10.0.2.0/30', process.pid))
    expect(again?.address, `a /30 has one address to give; after release() of it, allocate said: ${again?.message ?? String(again)}`).toBe(first.address)
  })

  it('a /30 whose one address is held by a process that was killed', async () => {
    const dir = tempDir()
    const owner = otherProcess()
    const held = await allocate(dir, '10.0.3.0/30', owner.pid)
    await owner.kill()
    const reclaimed = await outcome(allocate(dir, '10.0.3.0/30', process.pid))
    expect(reclaimed?.address, `the owner of ${held.address} was killed (a crashed run), and allocate said: ${reclaimed?.message ?? String(reclaimed)} — is that address still held, and how can allocate tell? (proc(5); see "Addresses")`).toBe(held.address)
  })

  it('an ipam.lock naming a process that has died', async () => {
    const dir = tempDir()
    const holder = otherProcess()
    writeFileSync(join(dir, 'ipam.lock'), JSON.stringify({ pid: holder.pid, start: processStart(holder.pid) }))
    await holder.kill()
    const lease = await Promise.race([allocate(dir, '10.0.4.0/30', process.pid), new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))])
    expect(lease, 'ipam.lock names a process that died holding it, and allocate had not answered 5 s later: what would every later run do? (see "Addresses")').toMatchObject({ address: '10.0.4.2' })
    expect(existsSync(join(dir, 'ipam.lock')), 'ipam.lock is still there after the allocation (see "Addresses")').toBe(false)
  })

  // What writers killed at the wrong moment leave: nothing yet, or the start of their JSON.
  const ownerless: [string, string, string, string][] = [
    ['an empty ipam.lock', '', '10.0.5', 'ipam.lock is empty, and allocate had not answered 5 s later: who could have left it so, and what would every later run do?'],
    ['an ipam.lock cut short by a writer that died', '{"pid":4', '10.0.6', 'ipam.lock holds {"pid":4 and nothing more, and allocate had not answered 5 s later: whom does that name, and what would every later run do?'],
  ]
  for (const [name, text, net, ask] of ownerless) {
    it(name, async () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'ipam.lock'), text)
      const lease = await Promise.race([allocate(dir, `${net}.0/30`, process.pid), new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))])
      expect(lease, `${ask} (see "Addresses")`).toMatchObject({ address: `${net}.2` })
      expect(readdirSync(dir).sort(), 'files left in the state directory after the allocation besides ipam.json (see "Addresses")').toEqual(['ipam.json'])
    })
  }
})
