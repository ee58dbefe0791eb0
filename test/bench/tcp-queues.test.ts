import { once } from 'node:events'
import net from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { bytesQueuedToward } from './lib/tcp-queues.js'

/** A loopback server and a client that never reads; resolves with both ends. */
async function pair (): Promise<{ server: net.Socket, client: net.Socket }> {
  const listener = net.createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  onTestFinished(() => { listener.close() })
  const address = listener.address() as net.AddressInfo
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>
  const client = net.connect({ port: address.port, host: '127.0.0.1' })
  client.pause()
  await once(client, 'connect')
  const [server] = await accepted
  onTestFinished(() => { client.destroy(); server.destroy() })
  return { server, client }
}

describe('bytesQueuedToward (stalled-consumer evidence)', () => {
  it('sees what a consumer that stops reading leaves in the kernel, and nothing on an idle connection', async () => {
    const { server, client } = await pair()
    expect(await bytesQueuedToward(client.localPort ?? -1)).toBe(0)
    const chunk = Buffer.alloc(64 * 1024, 1)
    let written = 0
    // Until the socket refuses more: the kernel buffers between the two ends are full.
    while (server.write(chunk)) written += chunk.length
    const queued = await bytesQueuedToward(client.localPort ?? -1)
    expect(queued).toBeGreaterThan(64 * 1024)
    // An upper bound: bytes received but not yet acknowledged count at both ends.
    expect(queued).toBeLessThanOrEqual(2 * (written + chunk.length))
  })

  it('is NaN for a port with no connection', async () => {
    const { client } = await pair()
    const port = client.localPort ?? -1
    client.destroy()
    await once(client, 'close')
    expect(await bytesQueuedToward(port)).toBeNaN()
  })
})
