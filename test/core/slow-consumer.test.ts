/**
 * A subscriber that stops reading must not hold up anyone else, and one that
 * reads slowly must lose nothing (src/core/slow-consumers.ts). aedes has
 * every delivery wait until the subscriber's socket drains, and a publish is
 * done only when every delivery is: once the socket toward a stalled reader
 * was full, every publisher to its topics stopped — and `broker.publish()`
 * never resolved — until `limits.drainTimeoutMs` closed it.
 */
import mqttPacket, { type Packet } from 'mqtt-packet'
import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker, type Broker } from '../../src/broker.js'
import type { DropEvent } from '../../src/core/events.js'
import type { BrokerConfigInput } from '../../src/config/schema.js'
import { connectClient } from '../helpers/clients.js'
import { rawConnected, rawSubscribe } from '../conformance/support.js'
import type { RawClient } from '../helpers/clients.js'
import { PacedPeer } from '../helpers/paced-peer.js'

async function startBroker (limits: BrokerConfigInput['limits'] = {}): Promise<{ broker: Broker, url: string, drops: DropEvent[] }> {
  const broker = await createBroker({
    logLevel: 'silent',
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    sessions: { store: 'memory' },
    limits,
  })
  onTestFinished(() => broker.close())
  const drops: DropEvent[] = []
  broker.on('drop', (drop) => { drops.push(drop) })
  return { broker, url: broker.addresses()[0]?.url ?? '', drops }
}

/** A QoS 0 subscriber that reads nothing after its SUBACK. */
async function stalledSubscriber (url: string, filters: string[]): Promise<RawClient> {
  const raw = await rawConnected(url, { clientId: 'stalled' })
  await rawSubscribe(raw, filters.map((topic) => ({ topic, qos: 0 })))
  raw.socket.pause()
  return raw
}

/** Counts the PUBLISHes (and those with RETAIN 1) `raw` reads from now on; `pauseTurns` > 0 reads slowly (a pause of that many event-loop turns after each chunk). */
function countPublishes (raw: RawClient, pauseTurns = 0): { count: () => number, until: (topic: string) => Promise<void>, untilRetained: (n: number) => Promise<void> } {
  let count = 0
  const waiters: Array<{ topic: string, resolve: () => void }> = []
  const counters: Array<{ n: number, resolve: () => void }> = []
  let retained = 0
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p: Packet) => {
    if (p.cmd !== 'publish') return
    count++
    if (p.retain) retained++
    for (const w of waiters) if (w.topic === p.topic) w.resolve()
    for (const c of counters) if (retained >= c.n) c.resolve()
  })
  raw.socket.removeAllListeners('data')
  raw.socket.on('data', (chunk: Buffer) => {
    parser.parse(chunk)
    if (pauseTurns === 0) return
    raw.socket.pause()
    let turns = pauseTurns
    const later = (): void => {
      if (--turns > 0) setImmediate(later)
      else raw.socket.resume()
    }
    setImmediate(later)
  })
  return {
    count: () => count,
    until: (topic) => new Promise((resolve) => { waiters.push({ topic, resolve }) }),
    untilRetained: (n) => new Promise((resolve) => { if (retained >= n) resolve(); else counters.push({ n, resolve }) }),
  }
}

// Enough to fill the kernel's buffers toward a reader several times over.
const MESSAGES = 6000
const payload = (i: number): Buffer => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(2048, 'x')])

describe('a subscriber that stops reading', () => {
  test('holds up the publisher and the other subscribers for limits.slowConsumerMs at most; what it misses is reported once per message', async () => {
    const { broker, url, drops } = await startBroker({ slowConsumerMs: 200 })
    // Two overlapping filters: aedes calls the delivery once per filter, the client gets one copy.
    await stalledSubscriber(url, ['t/#', 't/+'])
    const healthy = await connectClient(url, { clientId: 'healthy' })
    await healthy.subscribeAsync('t/#', { qos: 0 })
    let received = 0
    const sentinel = new Promise<void>((resolve) => {
      healthy.on('message', (topic) => {
        if (topic === 't/end') resolve()
        else if (topic === 't/data') received++
      })
    })

    const pub = await connectClient(url, { clientId: 'pub' })
    for (let i = 0; i < MESSAGES; i++) pub.publish('t/data', payload(i), { qos: 0 })
    await pub.publishAsync('t/end', 'end', { qos: 0 })
    // Before the fix the publisher's messages stopped being routed once the stalled socket was full.
    await sentinel
    // An embedding gateway's own publish is not held either.
    await broker.publish({ topic: 't/api', payload: 'x', qos: 0 })

    expect(received).toBe(MESSAGES)
    expect(drops.length).toBeGreaterThan(0)
    expect(drops.every((d) => d.clientId === 'stalled' && d.reason === 'slow_consumer')).toBe(true)
    const perMessage = new Set(drops.map((d) => String(d.message.payload).split(':')[0]))
    expect(perMessage.size).toBe(drops.length)
    expect(await broker.metrics.metrics()).toMatch(/midge_dead_letters_total\{reason="slow_consumer"\} [1-9]/)
    await healthy.endAsync()
    await pub.endAsync()
  }, 20_000)

  test('still gets every retained message its SUBSCRIBE matched once it reads again', async () => {
    const { broker, url, drops } = await startBroker({ slowConsumerMs: 50 })
    const RETAINED = 4000
    for (let i = 0; i < RETAINED; i++) await broker.publish({ topic: `r/${i}`, payload: payload(i), qos: 0, retain: true })
    const raw = await stalledSubscriber(url, ['r/#'])
    const reads = countPublishes(raw)
    // Live messages until one is dropped: then it is stalled, with retained ones still unsent.
    const pub = await connectClient(url, { clientId: 'pub' })
    let live = 0
    while (drops.length === 0) await pub.publishAsync('r/live', payload(live++), { qos: 0 })
    raw.socket.resume()
    // Once it has read up, it is no longer stalled: live messages reach it again.
    await reads.untilRetained(RETAINED)
    const end = reads.until('r/end')
    await pub.publishAsync('r/end', 'end', { qos: 0 })
    await end
    expect(drops.every((d) => d.message.topic === 'r/live')).toBe(true)
    expect(reads.count() - RETAINED - 1 + drops.length).toBe(live)
    await pub.endAsync()
  }, 20_000)

  test('with limits.slowConsumerMs 0 nothing is dropped (aedes: the publisher waits for the socket)', async () => {
    const { broker, url, drops } = await startBroker({ slowConsumerMs: 0, drainTimeoutMs: 300 })
    await stalledSubscriber(url, ['t/#'])
    const gone = new Promise<void>((resolve) => {
      broker.on('clientDisconnect', (client) => { if (client.id === 'stalled') resolve() })
    })
    const pub = await connectClient(url, { clientId: 'pub' })
    for (let i = 0; i < MESSAGES; i++) pub.publish('t/data', payload(i), { qos: 0 })
    // The stalled reader holds everyone up until drainTimeoutMs closes it.
    await gone
    expect(drops).toEqual([])
    await pub.endAsync()
  }, 20_000)
})

test('a subscriber that reads slower than its publisher is slowed down, and loses nothing', async () => {
  const { url, drops } = await startBroker({ slowConsumerMs: 500 })
  const raw = await rawConnected(url, { clientId: 'slow-link' })
  await rawSubscribe(raw, [{ topic: 't/#', qos: 0 }])
  const reads = countPublishes(raw, 50)
  const pub = await connectClient(url, { clientId: 'pub' })
  for (let i = 0; i < MESSAGES; i++) pub.publish('t/data', payload(i), { qos: 0 })
  await pub.publishAsync('t/end', 'end', { qos: 0 })
  await reads.until('t/end')
  // Before the fix (a byte limit) a reader this far behind lost most of them.
  expect({ received: reads.count(), drops: drops.length }).toEqual({ received: MESSAGES + 1, drops: 0 })
  await pub.endAsync()
}, 20_000)

test('without the inflight window, a stalled reader that would buffer over 8 MiB of QoS 1 messages is closed', async () => {
  const broker = await createBroker({
    logLevel: 'silent', listeners: [], sys: { interval: 0 }, sessions: { store: 'memory' }, limits: { slowConsumerMs: 50 },
  }, { omitBuiltins: ['priority-delivery'] })
  onTestFinished(() => broker.close())
  const peer = new PacedPeer()
  broker.attach(peer.stream, 'in-process')
  await peer.connect('stalled')
  await peer.subscribe('q/#', 1, 1)
  peer.pace({ kind: 'stalled' })
  let closed = false
  peer.stream.once('close', () => { closed = true })
  let peak = 0
  // Before, released writes went on into its buffer until drainTimeoutMs (aedes stops at the first full buffer).
  while (!closed) {
    await broker.publish({ topic: 'q/x', payload: payload(0), qos: 1 })
    peak = Math.max(peak, peer.stream.writableLength)
  }
  expect(peak).toBeLessThan(9 * 1024 * 1024)
}, 20_000)

describe('told apart by progress, not by bytes unsent', () => {
  async function pacedPeer (broker: Broker, clientId: string, topic: string): Promise<PacedPeer> {
    const peer = new PacedPeer()
    broker.attach(peer.stream, 'in-process')
    await peer.connect(clientId)
    await peer.subscribe(topic, 0, 1)
    return peer
  }

  test('a reader on a slow link (200 KB/s) is not stalled by a burst of 2 s of its link; it loses nothing', async () => {
    const { broker, drops } = await startBroker({ slowConsumerMs: 500 })
    const peer = await pacedPeer(broker, 'slow-link', 't/#')
    peer.pace({ kind: 'rate', bytesPerMs: 200 })
    // One turn's fan-in (~400 KB), then a publisher that waits for each message.
    const burst = Array.from({ length: 200 }, (_, i) => broker.publish({ topic: 't/burst', payload: payload(i), qos: 0 }))
    for (let i = 0; i < 20; i++) await broker.publish({ topic: 't/late', payload: payload(i), qos: 0 })
    await Promise.all(burst)
    const end = peer.next((p) => p.cmd === 'publish' && p.topic === 't/end')
    await broker.publish({ topic: 't/end', payload: 'end', qos: 0 })
    await end
    // Before, a buffer that had not emptied for slowConsumerMs counted as stalled: about half were dropped.
    expect({ drops: drops.length, received: peer.publishes() }).toEqual({ drops: 0, received: 221 })
  }, 20_000)

  test('a stalled reader sending SUBSCRIBE again and again does not get the retained set buffered each time', async () => {
    const { broker, drops } = await startBroker({ slowConsumerMs: 50 })
    for (let i = 0; i < 500; i++) await broker.publish({ topic: `r/${i}`, payload: payload(i), qos: 0, retain: true })
    const peer = await pacedPeer(broker, 'stalled', 'live')
    peer.pace({ kind: 'stalled' })
    for (let i = 0; drops.length === 0; i++) await broker.publish({ topic: 'live', payload: payload(i), qos: 0 })
    // Each SUBSCRIBE's retained stream waits for the socket with its first message. Before the fix the
    // streams did not wait: they poured 30 MB into the buffer, and this never resolved.
    const allWaiting = new Promise<void>((resolve) => {
      let n = 0
      peer.stream.on('newListener', (event) => { if (event === 'drain' && ++n === 30) resolve() })
    })
    // ~1 MiB of retained messages per SUBSCRIBE of ~10 bytes.
    for (let i = 0; i < 30; i++) peer.send({ cmd: 'subscribe', messageId: 10 + i, subscriptions: [{ topic: 'r/#', qos: 0 }] })
    await allWaiting
    expect(peer.stream.writableLength).toBeLessThan(2 * 1024 * 1024)
    // Reading again, it gets them.
    const last = peer.next((p) => p.cmd === 'suback' && p.messageId === 39)
    peer.pace({ kind: 'fast' })
    await last
  }, 20_000)
})
