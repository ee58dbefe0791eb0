import { describe, expect, test } from 'vitest'
import type { DropEvent } from '../../src/core/events.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { ManualAckClient, routed, startPriorityBroker, tempDir } from './helpers.js'

const MAX_INFLIGHT = 10
const RULES = [{ filter: 'w/high', priority: 9 }, { filter: 'w/low', priority: 1 }]

describe('inflight window', () => {
  test('a priority-9 message published after 100 priority-1 ones is the next delivery once the window frees', async () => {
    const broker = await startPriorityBroker({ priority: { rules: RULES }, maxInflight: 5 })
    const consumer = await ManualAckClient.open(broker.mqttUrl, 'slow-1')
    await consumer.subscribe('w/#', 1)
    const pub = await connectClient(broker.mqttUrl)

    const lows = routed(broker, 100, (t) => t === 'w/low')
    for (let i = 0; i < 100; i++) await pub.publishAsync('w/low', `low-${i}`, { qos: 1 })
    await lows
    const high = routed(broker, 1, (t) => t === 'w/high')
    await pub.publishAsync('w/high', 'urgent', { qos: 1 })
    await high

    const first = await consumer.take(5)
    expect(first.map((p) => p.payload.toString())).toEqual(['low-0', 'low-1', 'low-2', 'low-3', 'low-4'])
    // Nothing else was written: a QoS 0 sentinel (never held) arrives next.
    await pub.publishAsync('w/sentinel', 'end', { qos: 0 })
    expect((await consumer.next()).topic).toBe('w/sentinel')

    consumer.ack(first[0] as never)
    const next = await consumer.next()
    expect(next.topic).toBe('w/high')
    // The rest: acknowledged one by one, all 95 in FIFO order (none lost to aedes's duplicate check).
    for (const p of first.slice(1)) consumer.ack(p)
    consumer.ack(next)
    const rest: string[] = []
    for (let i = 0; i < 95; i++) {
      const p = await consumer.next()
      rest.push(p.payload.toString())
      consumer.ack(p)
    }
    expect(rest).toEqual(Array.from({ length: 95 }, (_, i) => `low-${i + 5}`))
  })

  test('QoS 0 is neither counted nor held; QoS 2 counts until PUBCOMP', async () => {
    const broker = await startPriorityBroker({ maxInflight: 1 })
    const consumer = await ManualAckClient.open(broker.mqttUrl, 'q-1')
    await consumer.subscribe('q/#', 2)
    const pub = await connectClient(broker.mqttUrl)

    await pub.publishAsync('q/two', 'a', { qos: 2 })
    const a = await consumer.next()
    expect(a.qos).toBe(2)
    const held = routed(broker, 1, (t) => t === 'q/two')
    await pub.publishAsync('q/two', 'b', { qos: 2 })
    await held
    await pub.publishAsync('q/zero', 'z', { qos: 0 })
    expect((await consumer.next()).topic).toBe('q/zero')

    // PUBREC alone does not free the slot …
    consumer.raw.send({ cmd: 'pubrec', messageId: a.messageId })
    await consumer.raw.next('pubrel')
    await pub.publishAsync('q/zero', 'z2', { qos: 0 })
    expect((await consumer.next()).payload.toString()).toBe('z2')
    // … PUBCOMP does.
    consumer.raw.send({ cmd: 'pubcomp', messageId: a.messageId })
    expect((await consumer.next()).payload.toString()).toBe('b')
  })

  test('a clean session\'s waiting queue is bounded: overflow drops the lowest priority, oldest, as a drop event', async () => {
    const broker = await startPriorityBroker({
      priority: { rules: RULES, defaultPriority: 4 },
      maxInflight: 1,
      config: { sessions: { maxQueued: 3 } },
    })
    const drops: DropEvent[] = []
    broker.on('drop', (e) => drops.push(e))
    const consumer = await ManualAckClient.open(broker.mqttUrl, 'bounded-1')
    await consumer.subscribe('w/#', 1)
    const pub = await connectClient(broker.mqttUrl)
    const all = routed(broker, 6)
    await pub.publishAsync('w/mid', 'inflight', { qos: 1 })
    await pub.publishAsync('w/low', 'low-a', { qos: 1 })
    await pub.publishAsync('w/high', 'high-a', { qos: 1 })
    await pub.publishAsync('w/low', 'low-b', { qos: 1 })
    await pub.publishAsync('w/mid', 'mid-a', { qos: 1 }) // 4 waiting > 3: low-a goes
    await pub.publishAsync('w/high', 'high-b', { qos: 1 }) // low-b goes
    await all

    expect(drops.map((d) => [d.reason, d.clientId, d.message.payload.toString(), d.message.properties?.priority]))
      .toEqual([['queue_full', 'bounded-1', 'low-a', 1], ['queue_full', 'bounded-1', 'low-b', 1]])
    const got: string[] = []
    for (let i = 0; i < 4; i++) {
      const p = await consumer.next()
      got.push(p.payload.toString())
      consumer.ack(p)
    }
    expect(got).toEqual(['inflight', 'high-a', 'high-b', 'mid-a'])
  })

  test('a stalled consumer (not reading its socket) does not hold up anyone else', async () => {
    const broker = await startPriorityBroker({ maxInflight: MAX_INFLIGHT })
    const stalled = await ManualAckClient.open(broker.mqttUrl, 'stalled-1')
    await stalled.subscribe('s/#', 1)
    stalled.raw.socket.pause()
    const healthy = await connectClient(broker.mqttUrl, { clientId: 'healthy-1' })
    await healthy.subscribeAsync('s/#', { qos: 1 })
    const pub = await connectClient(broker.mqttUrl)

    // 8 MB in all: without a window aedes writes it all to the stalled socket, which fills, and the
    // emitter slots its writes hold stall every other subscriber until drainTimeout (60 s).
    const payload = Buffer.alloc(4096, 1)
    let received = 0
    const all = new Promise<void>((resolve) => healthy.on('message', () => { if (++received === 2000) resolve() }))
    const sent = Array.from({ length: 2000 }, () => pub.publishAsync('s/x', payload, { qos: 1 }))
    await all
    await Promise.all(sent)
    stalled.raw.socket.resume()
    await stalled.take(MAX_INFLIGHT)
    await pub.publishAsync('s/sentinel', 'end', { qos: 0 })
    expect((await stalled.next()).topic).toBe('s/sentinel')
  })

  test('messages held behind a full window stay in the session store (disconnect and broker restart)', async () => {
    const dataDir = tempDir()
    const options = { priority: { rules: RULES }, maxInflight: 2, config: { sessions: { store: 'nedb' as const }, dataDir }, manualClose: true }
    const first = await startPriorityBroker(options)
    try {
      const consumer = await ManualAckClient.open(first.mqttUrl, 'durable-1', { clean: false })
      await consumer.subscribe('w/#', 1)
      const pub = await connectClient(first.mqttUrl)
      const all = routed(first, 8)
      for (let i = 0; i < 6; i++) await pub.publishAsync('w/low', `low-${i}`, { qos: 1 })
      await pub.publishAsync('w/high', 'high-0', { qos: 1 })
      await pub.publishAsync('w/high', 'high-1', { qos: 1 })
      await all
      const inflight = await consumer.take(2)
      expect(inflight.map((p) => p.payload.toString())).toEqual(['low-0', 'low-1'])
      consumer.ack(inflight[0] as never) // low-0 done; high-0 goes out
      expect((await consumer.next()).payload.toString()).toBe('high-0')
      consumer.raw.socket.destroy()
      await consumer.raw.closed()
      await pub.endAsync()
    } finally {
      await first.close()
    }

    const second = await startPriorityBroker({ ...options, manualClose: false })
    const sub = await connectClient(second.mqttUrl, { clientId: 'durable-1', clean: false })
    const got: string[] = []
    await new Promise<void>((resolve) => sub.on('message', (_t, payload) => { got.push(payload.toString()); if (got.length === 7) resolve() }))
    // In flight before the disconnect: re-sent first, in order. Then the rest by priority.
    expect(got).toEqual(['low-1', 'high-0', 'high-1', 'low-2', 'low-3', 'low-4', 'low-5'])
    await sub.publishAsync('w/done', 'x', { qos: 0 })
  })

  test('a persistent session\'s store overflow never hands over a dropped message', async () => {
    const broker = await startPriorityBroker({
      priority: { rules: [...RULES, { filter: 'w/zero', priority: 0 }] },
      maxInflight: 1,
      config: { sessions: { store: 'nedb', maxQueued: 3 }, dataDir: tempDir() },
    })
    const drops: string[] = []
    broker.on('drop', (e) => drops.push(`${e.reason}:${e.clientId ?? ''}:${e.message.payload.toString()}`))
    const consumer = await ManualAckClient.open(broker.mqttUrl, 'overflow-1', { clean: false })
    await consumer.subscribe('w/#', 1)
    const pub = await connectClient(broker.mqttUrl)
    const all = routed(broker, 6)
    await pub.publishAsync('w/high', 'h0', { qos: 1 }) // in flight
    await pub.publishAsync('w/low', 'low-a', { qos: 1 })
    await pub.publishAsync('w/high', 'high-b', { qos: 1 })
    await pub.publishAsync('w/low', 'low-c', { qos: 1 }) // 4 > 3: low-a (waiting) goes
    await pub.publishAsync('w/low', 'low-d', { qos: 1 }) // low-c goes
    await pub.publishAsync('w/zero', 'z', { qos: 1 }) // the newest, but the lowest: goes before it is emitted
    await all
    expect(drops).toEqual(['queue_full:overflow-1:low-a', 'queue_full:overflow-1:low-c', 'queue_full:overflow-1:z'])

    const got: string[] = []
    let p = await consumer.next()
    for (;;) {
      got.push(p.payload.toString())
      consumer.ack(p)
      if (got.length === 3) break
      p = await consumer.next()
    }
    expect(got).toEqual(['h0', 'high-b', 'low-d'])
    // still connected, nothing else queued
    await pub.publishAsync('w/sentinel', 'end', { qos: 0 })
    expect((await consumer.next()).topic).toBe('w/sentinel')
  })

  test('a clean client keeps working after its window fills and drains many times', async () => {
    const broker = await startPriorityBroker({ maxInflight: 2 })
    const sub = await connectClient(broker.mqttUrl, { clientId: 'cycle-1' })
    await sub.subscribeAsync('c/#', { qos: 1 })
    const pub = await connectClient(broker.mqttUrl)
    const got: string[] = []
    const done = new Promise<void>((resolve) => sub.on('message', (_t, p) => { got.push(p.toString()); if (got.length === 500) resolve() }))
    await Promise.all(Array.from({ length: 500 }, (_, i) => pub.publishAsync('c/x', String(i), { qos: 1 })))
    await done
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => String(i)))
    const last = nextMessage(sub)
    await pub.publishAsync('c/x', 'after', { qos: 1 })
    expect((await last).payload.toString()).toBe('after')
  })
})
