import { execa } from 'execa'
import { describe, expect, it } from 'vitest'
import { dnatRule, parsePublish, type PortMapping } from '#ch/08-network/ports.ts'
import { ContainerError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'
import { describeKernel } from '../support/kernel.ts'

async function expectContainerError(action: () => unknown, code: number, message: RegExp, what: string): Promise<void> {
  const error = await caught(action)
  expect(error, `expected a ContainerError for ${what}, but saw ${error === undefined ? 'it accepted' : String(error)}`).toBeInstanceOf(ContainerError)
  expect(error.exitCode, what).toBe(code)
  expect(error.message, `the message must name what is wrong: ${what}`).toMatch(message)
}

describe('parsePublish', () => {
  it('reads [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp] as docker run -p does', () => {
    expect(parsePublish('8080:80'), 'no host IP means every address, no protocol means tcp').toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' })
    expect(parsePublish('127.0.0.1:53:5353/udp')).toEqual({ hostIp: '127.0.0.1', hostPort: 53, containerPort: 5353, proto: 'udp' })
    expect(parsePublish('1:65535/tcp'), 'ports 1 and 65535 are both valid').toEqual({ hostIp: '0.0.0.0', hostPort: 1, containerPort: 65535, proto: 'tcp' })
  })

  it('refuses a port out of range, a protocol other than tcp/udp and a malformed value, naming what is wrong', async () => {
    await expectContainerError(() => parsePublish('70000:80'), 125, /70000.*out of range 1-65535|out of range 1-65535.*70000/, 'a host port above 65535 — did you check the range of both ports?')
    await expectContainerError(() => parsePublish('8080:0'), 125, /"0".*out of range 1-65535/, 'port 0 — did you check the range of both ports?')
    await expectContainerError(() => parsePublish('8080:80/sctp'), 125, /sctp/, 'sctp is not tcp or udp')
    await expectContainerError(() => parsePublish('80'), 125, /HOST_PORT:CONTAINER_PORT/, 'a lone port needs a host port here')
    await expectContainerError(() => parsePublish('1.2.3:80:80'), 125, /1\.2\.3/, 'a host IP with three parts')
    await expectContainerError(() => parsePublish('8o:80'), 125, /8o/, 'a port that is not a number')
  })
})

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

/**
 * Append `rule` to a MINIDOCKER chain in a network namespace made for the call and thrown away
 * after, and ask iptables whether it equals `expected` (-C compares parsed rules, not spellings).
 */
async function sameRule(rule: string[], expected: string[]): Promise<{ same: boolean; listed: string }> {
  const script = [
    'iptables -w -t nat -N MINIDOCKER',
    `iptables -w -t nat -A ${rule.map(quote).join(' ')} || exit 0`,
    `iptables -w -t nat -C ${expected.map(quote).join(' ')} 2>/dev/null && echo SAME`,
    'iptables -w -t nat -S MINIDOCKER',
  ].join('\n')
  const result = await execa('unshare', ['--net', 'sh', '-c', script], { reject: false, stdin: 'ignore', all: true })
  return { same: result.stdout.includes('SAME'), listed: result.all.split('\n').filter((line) => line !== 'SAME' && line !== '-N MINIDOCKER').join('; ') }
}

describeKernel('dnatRule', () => {
  const bridge = { name: 'minidocker0', subnet: '172.29.0.0/16' }
  const cases: [PortMapping, string[], string][] = [
    [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }, ['MINIDOCKER', '!', '-i', 'minidocker0', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', '172.29.0.5:80'],
      '-p 8080:80 names no host address: any of the host\'s addresses, so no destination match'],
    [{ hostIp: '192.0.2.1', hostPort: 53, containerPort: 5353, proto: 'udp' }, ['MINIDOCKER', '!', '-i', 'minidocker0', '-d', '192.0.2.1', '-p', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', '172.29.0.5:5353'],
      '-p 192.0.2.1:53:5353/udp: only packets to that host address, udp'],
  ]
  it('sends the mapping\'s host port, and only that, to the container\'s address and port, leaving the bridge\'s own traffic alone', async () => {
    for (const [mapping, expected, what] of cases) {
      const rule = dnatRule(mapping, bridge, '172.29.0.5')
      expect(rule[0], `${what}: the rule's first argument is the chain it goes in (CHAIN), as after -A`).toBe('MINIDOCKER')
      const { same, listed } = await sameRule(rule, expected)
      expect(same, `${what}: iptables holds your rule as "${listed}", but expected the one rule "-A ${expected.join(' ')}" — the protocol and host port, the host address only when named, not from the bridge (that is container to container), DNAT to the container's address:port`).toBe(true)
    }
  })
})
