import { Duplex, Writable } from 'node:stream'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { describe, expect, test } from 'vitest'
import { WriteBatches } from '../../src/core/write-batch.js'
import type { Broker } from '../../src/broker.js'
import { startBroker } from '../helpers/broker.js'

/** A writable that records how many chunks each underlying write carried. */
function recordingWritable (): { stream: Writable, writes: number[] } {
  const writes: number[] = []
  const stream = new Writable({
    write (_chunk, _enc, done) { writes.push(1); done() },
    writev (chunks, done) { writes.push(chunks.length); done() },
  })
  return { stream, writes }
}

/** Writes as aedes does: from an immediate, corked only until the next tick (mqtt-packet). */
function writeLikeAedes (stream: Writable, data: string): void {
  setImmediate(() => {
    stream.cork()
    stream.write(data)
    process.nextTick(() => stream.uncork())
  })
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('write batches', () => {
  test('deliveries decided in one job reach the socket in one write, and the stream is left uncorked', async () => {
    const { stream, writes } = recordingWritable()
    const batches = new WriteBatches()
    for (const data of ['a', 'b', 'c']) {
      batches.hold(stream)
      writeLikeAedes(stream, data)
    }
    await turn()
    await turn()
    expect(writes).toEqual([3])
    expect(stream.writableCorked).toBe(0)
  })

  test('a delivery decided after its batch was scheduled is still written, on its own', async () => {
    const { stream, writes } = recordingWritable()
    const batches = new WriteBatches()
    batches.hold(stream)
    writeLikeAedes(stream, 'a')
    await Promise.resolve() // the batch's flush is queued now
    await Promise.resolve()
    batches.hold(stream)
    writeLikeAedes(stream, 'b')
    await turn()
    await turn()
    expect(writes.reduce((a, b) => a + b, 0)).toBe(2)
    expect(stream.writableCorked).toBe(0)
  })

  test('a lone delivery in a job is not corked (nothing to coalesce it with)', () => {
    const { stream } = recordingWritable()
    new WriteBatches().hold(stream)
    expect(stream.writableCorked).toBe(0)
  })

  test('holds with no write after them (the client went away) leave nothing corked', async () => {
    const { stream } = recordingWritable()
    const batches = new WriteBatches()
    batches.hold(stream)
    batches.hold(stream)
    expect(stream.writableCorked).toBe(1)
    await turn()
    await turn()
    expect(stream.writableCorked).toBe(0)
  })

  test('the broker writes a burst of deliveries to one subscriber in one socket write', async () => {
    const broker = await startBroker()
    const subscriber = attachRecorded(broker)
    await subscriber.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'batch-sub', clean: true, keepalive: 0 }, 'connack')
    await subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'burst/t', qos: 0 }] }, 'suback')
    const publisher = attachRecorded(broker)
    await publisher.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'batch-pub', clean: true, keepalive: 0 }, 'connack')

    // Ten PUBLISHes in one chunk, as a busy publisher's socket delivers them.
    const burst = Array.from({ length: 10 }, (_, i) => ({ cmd: 'publish', topic: 'burst/t', qos: 0, retain: false, dup: false, payload: Buffer.from(`m${i}`) }))
    subscriber.writes.length = 0
    publisher.push(burst)
    while (subscriber.writes.reduce((a, b) => a + b, 0) < 10) await turn()
    // One write carrying all ten (aedes alone makes ten).
    expect(subscriber.writes).toEqual([10])
  })
})

/**
 * A connection handed to the broker in-process; `writes` records, per write
 * the broker makes to it, how many PUBLISH packets that write carried.
 */
function attachRecorded (broker: Broker): {
  writes: number[]
  push: (packets: object[]) => void
  send: (packet: object, answer: Packet['cmd']) => Promise<void>
} {
  const writes: number[] = []
  const received: Packet[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let publishes = 0
  parser.on('packet', (p: Packet) => {
    received.push(p)
    if (p.cmd === 'publish') publishes++
  })
  const take = (chunks: Buffer[], done: () => void): void => {
    publishes = 0
    for (const chunk of chunks) parser.parse(chunk)
    if (publishes > 0) writes.push(publishes)
    done()
  }
  const stream = new Duplex({
    read () {},
    write (chunk: Buffer, _enc, done) { take([chunk], done) },
    writev (chunks, done) { take(chunks.map((c) => c.chunk as Buffer), done) },
  })
  broker.attach(stream, 'test')
  const push = (packets: object[]): void => { stream.push(Buffer.concat(packets.map((p) => mqttPacket.generate(p as Packet)))) }
  return {
    writes,
    push,
    send: async (packet, answer) => {
      push([packet])
      while (!received.some((p) => p.cmd === answer)) await turn()
    },
  }
}
