import { describe, expect, it } from 'vitest'
import { parsePublish } from '#ch/08-network/ports.ts'
import { ContainerError } from '../../lib/errors.ts'
import { caught } from '../support/errors.ts'

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
