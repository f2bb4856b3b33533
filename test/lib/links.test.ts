import { describe, expect, it } from 'vitest'
import { macFor } from '../../lib/links.ts'

describe('macFor', () => {
  it('six addresses, 172.29.0.2 among them', () => {
    const addresses = ['172.29.0.2', '172.29.0.3', '172.29.1.2', '172.28.0.2', '10.0.0.2', '10.0.0.255']
    const macs = addresses.map(macFor)
    for (const [i, mac] of macs.entries())
      expect(mac, `macFor("${addresses[i]}") gave "${mac}": is that six bytes of two hex digits each, separated by ':'? (see "A veth pair")`).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
    expect(macFor('172.29.0.2'), 'expected Docker\'s MAC for 172.29.0.2 (GenerateMACFromIP in libnetwork\'s netutils; see "A veth pair")').toBe('02:42:ac:1d:00:02')
    expect(new Set(macs).size, `two addresses got the same MAC (${macs.join(', ')}): the bridge could not tell the containers apart — which bytes of the address are in it?`).toBe(addresses.length)
    expect(macFor('172.29.0.2'), '172.29.0.2 gave another MAC the second time').toBe(macFor('172.29.0.2'))
  })
})
