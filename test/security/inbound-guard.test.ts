import { PassThrough } from 'node:stream'
import mqttPacket from 'mqtt-packet'
import { describe, expect, test } from 'vitest'
import { guardNeeded, InboundGuard } from '../../src/security/inbound-guard.js'

const publish = (i: number): Buffer => mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from(String(i)), qos: 0, dup: false, retain: false })

/** Everything the guard passes on, until it ends or fails. */
function drain (guard: InboundGuard): Promise<{ data: Buffer, error?: Error }> {
  const chunks: Buffer[] = []
  guard.on('data', (c: Buffer) => chunks.push(c))
  return new Promise((resolve) => {
    guard.once('end', () => resolve({ data: Buffer.concat(chunks) }))
    guard.once('error', (error) => resolve({ data: Buffer.concat(chunks), error }))
  })
}

const limits = { maxPacketSize: 0, publishRate: 0, publishBytesRate: 0, throttleDisconnectMs: 0 }

describe('InboundGuard', () => {
  test('is only installed when a limit is on', () => {
    expect(guardNeeded(limits)).toBe(false)
    expect(guardNeeded({ ...limits, maxPacketSize: 268_435_455 })).toBe(false)
    expect(guardNeeded({ ...limits, maxPacketSize: 1024 })).toBe(true)
    expect(guardNeeded({ ...limits, publishBytesRate: 1 })).toBe(true)
  })

  test('throttled bytes are held, then all delivered in order, even when the source ends meanwhile', async () => {
    const source = new PassThrough()
    const guard = new InboundGuard(source, { ...limits, publishRate: 100 })
    const out = drain(guard)
    const input = Buffer.concat(Array.from({ length: 120 }, (_, i) => publish(i)))
    // split mid-header to exercise the scanner across chunks
    source.write(input.subarray(0, 7))
    source.end(input.subarray(7))
    const started = performance.now()
    const { data, error } = await out
    expect(error).toBeUndefined()
    expect(data.equals(input)).toBe(true)
    expect(performance.now() - started).toBeGreaterThanOrEqual(150) // 20 over the burst at 100/s
  })

  test('an announced length over maxPacketSize fails the stream before the body arrives', async () => {
    const source = new PassThrough()
    const guard = new InboundGuard(source, { ...limits, maxPacketSize: 100 })
    const out = drain(guard)
    source.write(Buffer.concat([publish(1), Buffer.from([0x30, 0xe8, 0x07])])) // then 1000 bytes announced
    const { error } = await out
    expect(error?.message).toMatch(/1003 bytes exceeds maxPacketSize/)
    expect(source.destroyed).toBe(true)
  })
})

describe('InboundGuard over TCP', () => {
  test('publishes held while throttled still count when the client closes right after sending them', async () => {
    const { startBroker } = await import('../helpers/broker.js')
    const { collectMessages, connectClient, RawClient } = await import('../helpers/clients.js')
    const broker = await startBroker({ limits: { publishRate: 50 } })
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('burst')
    const all = collectMessages(sub, 80)
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect()
    const packets = Array.from({ length: 80 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: 'burst', payload: Buffer.from(String(i)), qos: 0, dup: false, retain: false }))
    raw.socket.end(Buffer.concat([...packets, Buffer.from([0xe0, 0x00])])) // then DISCONNECT and FIN
    const got = await all
    expect(got.map((m) => m.payload.toString())).toEqual(Array.from({ length: 80 }, (_, i) => String(i)))
  })
})
