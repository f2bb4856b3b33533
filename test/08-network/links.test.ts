import { describe, expect, it } from 'vitest'
import { macFor } from '#ch/08-network/links.ts'

describe('macFor', () => {
  it('gives each address a MAC of its own: 02:42 and the address\'s four bytes, two hex digits each', () => {
    const addresses = ['172.29.0.2', '172.29.0.3', '172.29.1.2', '172.28.0.2', '10.0.0.2', '10.0.0.255']
    const macs = addresses.map(macFor)
    for (const [i, mac] of macs.entries())
      expect(mac, `macFor("${addresses[i]}") is not a MAC address of six bytes, each two hex digits, separated by ':' — did you pad each byte to two digits?`).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
    expect(macFor('172.29.0.2'), 'Docker\'s MAC for 172.29.0.2: 02:42 (locally administered, not multicast), then 172 29 0 2 in hex').toBe('02:42:ac:1d:00:02')
    expect(new Set(macs).size, `two addresses got the same MAC (${macs.join(', ')}): the bridge could not tell the containers apart — is every byte of the address in it?`).toBe(addresses.length)
    expect(macFor('172.29.0.2'), 'the same address gives the same MAC each time').toBe(macFor('172.29.0.2'))
  })
})
