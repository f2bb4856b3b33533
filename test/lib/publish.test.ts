import { describe, expect, it } from 'vitest'
import { ContainerError } from '../../lib/errors.ts'
import { parsePublish } from '../../lib/publish.ts'
import { caught } from '../support/errors.ts'

async function expectContainerError(action: () => unknown, code: number, message: RegExp, what: string, ask = 'what is wrong with it?'): Promise<void> {
  const error = await caught(action)
  expect(error, `${what}: parsePublish ${error === undefined ? 'accepted it' : `threw ${String(error)}`}; expected a ContainerError — ${ask} (see "Published ports")`).toBeInstanceOf(ContainerError)
  expect(error.exitCode, `${what}: the ContainerError's exit code, as docker run's for a bad flag`).toBe(code)
  expect(error.message, `${what}: expected the message to name what is wrong (parsePublish's doc comment)`).toMatch(message)
}

describe('parsePublish', () => {
  it('the values 8080:80, 127.0.0.1:53:5353/udp and 1:65535/tcp', () => {
    expect(parsePublish('8080:80'), '-p 8080:80: what does docker run -p take when no host IP and no protocol are given? (docker/cli\'s opts/port.go)').toEqual({ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' })
    expect(parsePublish('127.0.0.1:53:5353/udp'), '-p 127.0.0.1:53:5353/udp').toEqual({ hostIp: '127.0.0.1', hostPort: 53, containerPort: 5353, proto: 'udp' })
    expect(parsePublish('1:65535/tcp'), '-p 1:65535/tcp (go-connections\' nat.ParsePortSpec)').toEqual({ hostIp: '0.0.0.0', hostPort: 1, containerPort: 65535, proto: 'tcp' })
  })

  it('the values 70000:80, 8080:0, 8080:80/sctp, 80, 1.2.3:80:80 and 8o:80', async () => {
    await expectContainerError(() => parsePublish('70000:80'), 125, /70000.*out of range 1-65535|out of range 1-65535.*70000/, '-p 70000:80', 'which ports exist?')
    await expectContainerError(() => parsePublish('8080:0'), 125, /"0".*out of range 1-65535/, '-p 8080:0', 'which ports exist?')
    await expectContainerError(() => parsePublish('8080:80/sctp'), 125, /sctp/, '-p 8080:80/sctp')
    await expectContainerError(() => parsePublish('80'), 125, /HOST_PORT:CONTAINER_PORT/, '-p 80, with no host port')
    await expectContainerError(() => parsePublish('1.2.3:80:80'), 125, /1\.2\.3/, '-p 1.2.3:80:80')
    await expectContainerError(() => parsePublish('8o:80'), 125, /8o/, '-p 8o:80')
  })
})
