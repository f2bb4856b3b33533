import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { createServer, connect, type AddressInfo, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { proxyTcp, proxyUdp, type Proxy } from '../../lib/userland-proxy.ts'
import { freePort } from '../support/registry.ts'

// The proxy on its own, in this process, on loopback: a stand-in container listens on
// 127.0.0.1 and the proxy forwards a free port of 127.0.0.1 to it.
const SECTION = '(see "The proxy")'

/** `promise`, or `fallback` once `ms` have passed. */
const within = <T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> =>
  Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms))])

describe('proxyTcp', () => {
  it('a client that ends its side, then reads the answer', async () => {
    // The container answers once it has read the whole request, as an HTTP/1.0 server or
    // `nc -q` on the other end does: the end of the request is its end of stream.
    const container: Server = createServer({ allowHalfOpen: true }, (socket) => {
      let request = ''
      socket.setEncoding('utf8').on('data', (chunk: string) => (request += chunk))
      socket.on('end', () => socket.end(`answer to ${request}`))
      socket.on('error', () => socket.destroy())
    })
    container.listen(0, '127.0.0.1')
    await once(container, 'listening')
    const containerPort = (container.address() as AddressInfo).port
    let proxy: Proxy | undefined
    try {
      const hostPort = await freePort('tcp')
      proxy = await proxyTcp({ hostIp: '127.0.0.1', hostPort, containerIp: '127.0.0.1', containerPort, proto: 'tcp' })
      const client = connect({ port: hostPort, host: '127.0.0.1', allowHalfOpen: true })
      let answer = ''
      client.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk))
      const closed = new Promise<string>((resolve) => {
        client.on('close', () => resolve('closed'))
        client.on('error', (error) => resolve(`failed: ${error.message}`))
      })
      client.end('request')
      const how = await within(closed, 5000, 'still open after 5 s')
      client.destroy()
      expect(answer, `a client sent "request" through the proxy and shut down its writing side (shutdown(SHUT_WR), as \`nc -N\` and an HTTP/1.0 client do), then read: it got "${answer}" and the connection ended ${how === 'closed' ? '' : `(${how}) `}— the container answers only once it has seen the end of the request. What does your proxy do with one side's end, and to which socket? ${SECTION}`).toBe('answer to request')
    } finally {
      await proxy?.close()
      await new Promise((resolve) => container.close(resolve))
    }
  })
})

describe('proxyUdp', () => {
  it('two clients at once, then close()', async () => {
    // The container answers each datagram once both have come, the second client's first.
    const container = createSocket('udp4')
    const received: { text: string; from: RemoteInfo }[] = []
    container.on('message', (message: Buffer, from: RemoteInfo) => {
      received.push({ text: message.toString(), from })
      if (received.length === 2) for (const { text, from: to } of [...received].reverse()) container.send(`answer to ${text}`, to.port, to.address)
    })
    container.bind(0, '127.0.0.1')
    await once(container, 'listening')
    const containerPort = container.address().port
    const clients: UdpSocket[] = []
    let proxy: Proxy | undefined
    try {
      const hostPort = await freePort('udp')
      proxy = await proxyUdp({ hostIp: '127.0.0.1', hostPort, containerIp: '127.0.0.1', containerPort, proto: 'udp' })
      const answers = await Promise.all(['one', 'two'].map(async (name) => {
        const client = createSocket('udp4')
        clients.push(client)
        const got: string[] = []
        client.on('message', (message: Buffer) => got.push(message.toString()))
        client.bind(0, '127.0.0.1')
        await once(client, 'listening')
        client.send(name, hostPort, '127.0.0.1')
        await new Promise((resolve) => setTimeout(resolve, 1500))
        return got
      }))
      expect(received.map((r) => r.text).sort(), `the container got ${JSON.stringify(received.map((r) => r.text))} from two clients that sent "one" and "two" to the proxy at once ${SECTION}`).toEqual(['one', 'two'])
      expect(answers, `two clients sent "one" and "two" to the proxy at once, and the container answered each, the second first; client one got ${JSON.stringify(answers[0])}, client two ${JSON.stringify(answers[1])}. The container answers the address a datagram came from: how does your proxy know which client an answer is for? ${SECTION}`).toEqual([['answer to one'], ['answer to two']])

      await proxy.close()
      proxy = undefined
      // A socket still open holds its port: binding that port again fails while it does.
      const held: number[] = []
      for (const port of new Set(received.map((r) => r.from.port))) {
        const probe = createSocket('udp4')
        const bound = await new Promise<boolean>((resolve) => {
          probe.once('error', () => resolve(false))
          probe.bind(port, '127.0.0.1', () => resolve(true))
        })
        probe.close()
        if (!bound) held.push(port)
      }
      expect(held, `after close() resolved, the port(s) ${held.join(', ')} from which the proxy sent the clients' datagrams to the container are still bound: a proxy for a container that is gone keeps them open until the run ends. Which sockets has your proxy opened, and which does close() close? ${SECTION}`).toEqual([])
    } finally {
      await proxy?.close()
      for (const client of clients) client.close()
      container.close()
    }
  })
})
