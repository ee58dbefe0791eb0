/**
 * The byte-level guard behind the [MQTT-1.5.3-1], [MQTT-2.3.1-1], [MQTT-3.1.2-2]
 * and `mqtt.maxQos` checks (src/core/spec-wire.ts): packets reach aedes whole,
 * however the bytes are cut.
 */
import { PassThrough } from 'node:stream'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { expect, test } from 'vitest'
import { guardWire } from '../../src/core/spec-wire.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { connectBytes, generate, subscribeBytes } from './support.js'

/** What mqtt-packet (aedes's parser) makes of the reads, in order. */
function parseAll (reads: Buffer[]): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const out: Packet[] = []
  parser.on('packet', (p: Packet) => out.push(p))
  for (const r of reads) parser.parse(r)
  return out
}

/** Feed `bytes` in pieces of `size` and collect what a reader (aedes) gets from each read(). */
function feed (bytes: Buffer, size: number, maxQos: 0 | 1 | 2 = 2): { reads: Buffer[], violations: string[] } {
  const stream = new PassThrough()
  const violations: string[] = []
  guardWire(stream, { maxQos, maxTopicLevels: 100, onViolation: (reason) => violations.push(reason) })
  const reads: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) {
    stream.write(bytes.subarray(i, i + size))
    const got = stream.read() as Buffer | null
    if (got !== null) reads.push(got)
  }
  return { reads, violations }
}

const packets = [
  connectBytes({ clientId: 'wire' }),
  generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 2 }] }),
  generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(300, 1), qos: 1, messageId: 2 }),
  generate({ cmd: 'pingreq' }),
]

test('[MQTT-6.0.0-2] whatever the cut, the reader gets every byte and parses the same packets', () => {
  const all = Buffer.concat(packets)
  const expected = parseAll([all])
  expect(expected.map((p) => p.cmd)).toEqual(['connect', 'subscribe', 'publish', 'pingreq'])
  for (const size of [1, 2, 3, 7, 64, 1000]) {
    const { reads, violations } = feed(all, size)
    expect(violations).toEqual([])
    expect(Buffer.concat(reads).equals(all)).toBe(true)
    expect(parseAll(reads), `cut ${size}`).toEqual(expected)
  }
})

test('[MQTT-3.8.4-5] with maxQos 1 the requested QoS 2 is lowered on the wire (so the SUBACK grants 1)', () => {
  const { reads } = feed(Buffer.concat([packets[0]!, subscribeBytes([{ topic: 'x', options: 2 }, { topic: 'y', options: 0 }])]), 3, 1)
  const subscribe = parseAll(reads)[1] as { subscriptions: Array<{ qos: number }> }
  expect(subscribe.subscriptions.map((s) => s.qos)).toEqual([1, 0])
})

test('[MQTT-3.1.0-1] a first packet other than CONNECT is refused on its first byte', () => {
  const { reads, violations } = feed(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 4)
  expect(reads).toEqual([])
  expect(violations).toHaveLength(1)
})

test('[MQTT-1.5.3-1] a violation stops the stream at the offending packet', () => {
  const bad = Buffer.concat([packets[0]!, subscribeBytes([{ topic: Buffer.from([0xc3]), options: 0 }]), packets[3]!])
  const { reads, violations } = feed(bad, 5)
  expect(violations).toHaveLength(1)
  expect(Buffer.concat(reads).equals(packets[0]!)).toBe(true)
})

test('a 1 MB PUBLISH passes through intact', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('big')
  const got = nextMessage(sub)
  const payload = Buffer.alloc(1024 * 1024, 7)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('big', payload, { qos: 1 })
  expect((await got).payload.equals(payload)).toBe(true)
})
