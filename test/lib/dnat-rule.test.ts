import { execa } from 'execa'
import { expect, it } from 'vitest'
import { dnatRule } from '../../lib/publish.ts'
import type { PortMapping } from '../../lib/net.ts'
import { describeKernel } from '../support/kernel.ts'

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

/**
 * Append `rule` to a MINIDOCKER chain in a network namespace made for the call and thrown away
 * after, and return what iptables holds, in its own spelling (-S), or what it said.
 */
async function heldAs(rule: string[]): Promise<string> {
  const script = [
    'iptables -w -t nat -N MINIDOCKER',
    `iptables -w -t nat -A ${rule.map(quote).join(' ')} || exit 0`,
    'iptables -w -t nat -S MINIDOCKER',
  ].join('\n')
  const result = await execa('unshare', ['--net', 'sh', '-c', script], { reject: false, stdin: 'ignore', all: true })
  return result.all.split('\n').filter((line) => line !== '-N MINIDOCKER').join('; ')
}

/**
 * What is wrong with `listed`, iptables' -S line of dnatRule's rule for `mapping`, asked as a
 * question about the packets it matches or what it does to them, or undefined when nothing is:
 * each match and the target are judged by what they do.
 */
function askAbout(listed: string, mapping: PortMapping, containerIp: string): string | undefined {
  const words = listed.replace(/^-A \S+\s*/, '').split(/\s+/)
  const after = (flag: string): string | undefined => {
    const at = words.indexOf(flag)
    return at < 0 ? undefined : words[at + 1]
  }
  const negated = (flag: string): boolean => words[words.indexOf(flag) - 1] === '!'
  const to = after('--to-destination')
  if (after('-j') !== 'DNAT') return 'which target rewrites where a packet goes?'
  if (to !== `${containerIp}:${mapping.containerPort}`)
    return to?.startsWith(`${containerIp}:`) ? 'to which port of the container does the rule send it?' : 'to which address does the rule send the packet?'
  if (after('-p') !== mapping.proto || negated('-p')) return `does the rule match the protocol this mapping publishes, and only it?`
  const dport = after('--dport')
  if (dport !== String(mapping.hostPort) || negated('--dport'))
    return dport === String(mapping.containerPort) ? 'which port does a client connect to: the host\'s or the container\'s?' : 'does the rule match the port a client connects to, and only it?'
  const address = after('-d')
  if (mapping.hostIp !== '0.0.0.0' && (address !== `${mapping.hostIp}/32` || negated('-d')))
    return 'this mapping publishes on one of the host\'s addresses: does the rule also rewrite a packet for another of the host\'s addresses, to the same port?'
  if (mapping.hostIp === '0.0.0.0' && address !== undefined) return 'this mapping publishes on every address of the host: which ones does the rule leave out?'
  // Every word judged above, and the protocol's own match that -p loads: anything else is a match of its own.
  // Where a packet comes in (-i) is judged by real traffic, in neighbour.test.ts and loopback.test.ts.
  const judged = new Set(['-p', '--dport', '-d', '-i', '-j', '--to-destination'])
  const rest = words.filter((word, at) => !judged.has(word) && !judged.has(words[at - 1]!) && word !== '!' && !(word === '-m' && words[at + 1] === mapping.proto) && !(word === mapping.proto && words[at - 1] === '-m'))
  return rest.length === 0 ? undefined : `does every match of the rule hold for every packet of this published port (${rest.join(' ')})?`
}

describeKernel('dnatRule', () => {
  const bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }
  const cases: [PortMapping, string][] = [
    [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }, '-p 8080:80'],
    [{ hostIp: '192.0.2.1', hostPort: 53, containerPort: 5353, proto: 'udp' }, '-p 192.0.2.1:53:5353/udp'],
  ]
  it('the mappings 8080:80 and 192.0.2.1:53:5353/udp, for a container at 172.29.0.5', async () => {
    for (const [mapping, what] of cases) {
      const rule = dnatRule(mapping, bridge, '172.29.0.5')
      expect(rule[0], `${what}: expected the rule's first argument to be the chain it goes in (CHAIN), as after -A (its doc comment)`).toBe('MINIDOCKER')
      const listed = await heldAs(rule)
      const held = listed.startsWith('-A ') ? `iptables holds the rule as "${listed}"` : `iptables did not take the rule: ${listed}`
      const question = listed.startsWith('-A ') ? askAbout(listed, mapping, '172.29.0.5') : 'what does it say is wrong?'
      expect(question, `${what}, for a container at 172.29.0.5: ${held}; ${question} (iptables-extensions(8); see chapter 08, "Published ports")`).toBeUndefined()
    }
  })
})
