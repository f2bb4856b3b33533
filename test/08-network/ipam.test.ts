import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { allocate, processStart, release } from '#ch/08-network/ipam.ts'
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
  it('gives the lowest free addresses, never the network, the gateway or the broadcast address, and says when the subnet is full', async () => {
    const dir = tempDir()
    const leases = []
    for (let i = 0; i < 5; i++) leases.push(await allocate(dir, '10.0.0.0/29', process.pid))
    expect(leases.map((l) => l.address), 'a /29 has 8 addresses: .0 is the network, .1 the gateway, .7 the broadcast — did you skip them?').toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'])
    expect(leases[0], 'the lease carries the prefix and the gateway (the subnet\'s first host address)').toMatchObject({ prefix: 29, gateway: '10.0.0.1' })
    const full = await caught(() => allocate(dir, '10.0.0.0/29', process.pid))
    expect(full, `expected a ContainerError once 10.0.0.0/29 is full, but saw ${full === undefined ? 'another address' : String(full)}`).toBeInstanceOf(ContainerError)
    expect(full.message, 'the error names the cause and the subnet').toMatch(/no free address.*10\.0\.0\.0\/29/)
  })

  it('never gives one address twice to allocations made at the same time', async () => {
    const dir = tempDir()
    const leases = await outcome(Promise.all(Array.from({ length: 8 }, () => allocate(dir, '10.0.1.0/24', process.pid))))
    expect(leases, `8 allocations at once failed: ${String(leases)} — did you hold the lock from the read to the write?`).toBeInstanceOf(Array)
    const addresses = (leases as { address: string }[]).map((l) => l.address)
    expect(new Set(addresses).size, `8 allocations at once got ${addresses.join(', ')}: two read the same state before either wrote it — did you hold the lock from the read to the write?`).toBe(8)
  })

  it('gives a released address again', async () => {
    const dir = tempDir()
    const first = await allocate(dir, '10.0.2.0/30', process.pid)
    await release(dir, first.address)
    const again = await outcome(allocate(dir, '10.0.2.0/30', process.pid))
    expect(again?.address, `a /30 has one address to give; after release() it must be free again, but allocate said: ${again?.message ?? String(again)}`).toBe(first.address)
  })

  it('reclaims an address whose owner has died', async () => {
    const dir = tempDir()
    const owner = otherProcess()
    const held = await allocate(dir, '10.0.3.0/30', owner.pid)
    await owner.kill()
    const reclaimed = await outcome(allocate(dir, '10.0.3.0/30', process.pid))
    expect(reclaimed?.address, `the owner of ${held.address} was killed (a crashed run), so its address is free; allocate said: ${reclaimed?.message ?? String(reclaimed)} — did you check whether each owner still runs?`).toBe(held.address)
  })

  it('takes over a lock whose holder has died', async () => {
    const dir = tempDir()
    const holder = otherProcess()
    writeFileSync(join(dir, 'ipam.lock'), JSON.stringify({ pid: holder.pid, start: processStart(holder.pid) }))
    await holder.kill()
    const lease = await Promise.race([allocate(dir, '10.0.4.0/30', process.pid), new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))])
    expect(lease, 'ipam.lock names a process that died holding it: waiting for it forever blocks every later run — did you take over a lock whose owner is gone?').toMatchObject({ address: '10.0.4.2' })
    expect(existsSync(join(dir, 'ipam.lock')), 'the lock is removed once the allocation is done').toBe(false)
  })

  it('takes over a lock file that names no owner, as a holder killed before writing it would leave', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'ipam.lock'), '')
    const lease = await Promise.race([allocate(dir, '10.0.5.0/30', process.pid), new Promise((resolve) => setTimeout(resolve, 5000, 'timeout'))])
    expect(lease, 'ipam.lock is empty: no live holder ever leaves it so, and waiting for it blocks every later run forever — did you write the owner so that the lock never exists without it, and take over one that names nobody?').toMatchObject({ address: '10.0.5.2' })
    expect(readdirSync(dir).sort(), 'the state directory holds ipam.json only once the allocation is done').toEqual(['ipam.json'])
  })
})
