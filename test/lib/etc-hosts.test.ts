import { writeFileSync } from 'node:fs'
import { isIPv4 } from 'node:net'
import { join } from 'node:path'
import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { hostsFile } from '../../lib/etc-hosts.ts'
import { caught } from '../support/errors.ts'
import { tempDir } from '../support/files.ts'

describe('hostsFile', () => {
  it('/etc/hosts for hostname c0ffee, read by glibc', async () => {
    const hosts = hostsFile('c0ffee')
    expect(await lookUp(hosts, 'localhost'), 'glibc, reading hostsFile()\'s text as /etc/hosts, finds no IPv4 address for localhost').toContain('127.0.0.1')
    const own = await lookUp(hosts, 'c0ffee')
    expect(own.length > 0 && own.every(onLoopback), `glibc, reading hostsFile('c0ffee') as /etc/hosts, gives c0ffee ${own.length ? own.join(', ') : 'no address'}: c0ffee must resolve before the container has any network. Which addresses does it have then? (chapter text, "A container's own layers")`).toBe(true)
  })

  it('/etc/hosts for a hostname that holds more than a name', async () => {
    const hostname = 'c0ffee\n10.6.6.6\tregistry.internal'
    const made = await caught(() => hostsFile(hostname))
    if (made) {
      expect(made.message, 'hostsFile() refused the hostname: naming it?').toContain('c0ffee')
      return
    }
    const leads = await lookUp(hostsFile(hostname), 'registry.internal')
    expect(leads, `the container's hostname was ${JSON.stringify(hostname)} (sethostname(2) takes any bytes): glibc, reading hostsFile()'s text as /etc/hosts, now sends registry.internal to ${leads.join(', ')}. What may a hostname hold in that file (man 5 hosts), and what must happen to one that holds more?`).toEqual([])
  })
})

/** The addresses glibc finds for `name` in `hosts`, read as /etc/hosts (getent -s files, in a mount namespace of its own). */
async function lookUp(hosts: string, name: string): Promise<string[]> {
  const file = join(tempDir(), 'hosts')
  writeFileSync(file, hosts)
  const run = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec getent -s files ahosts "$1"', file, name], { reject: false, stdin: 'ignore' })
  if (run.exitCode === 2) return [] // not found
  if (run.exitCode !== 0) throw new Error(`test set-up: getent failed: ${run.stderr}`)
  return [...new Set(run.stdout.split('\n').filter(Boolean).map((line) => line.split(/\s+/)[0]!))]
}

/** Is `address` one a container has before any network (its own loopback)? */
const onLoopback = (address: string) => (isIPv4(address) ? address.startsWith('127.') : address === '::1')
