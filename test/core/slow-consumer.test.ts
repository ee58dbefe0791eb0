/**
 * A QoS 0 subscriber that stops reading must not hold up anyone else
 * (src/core/slow-consumers.ts). aedes has every QoS 0 delivery wait until the
 * subscriber's socket drains, and a publish is done only when every delivery
 * is: once the socket toward a stalled reader was full, every publisher to its
 * topics stopped — and `broker.publish()` never resolved — until
 * `limits.drainTimeoutMs` closed it.
 */
import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker, type Broker } from '../../src/broker.js'
import type { DropEvent } from '../../src/core/events.js'
import type { BrokerConfigInput } from '../../src/config/schema.js'
import { connectClient } from '../helpers/clients.js'
import { rawConnected, rawSubscribe } from '../conformance/support.js'

async function startBroker (limits: BrokerConfigInput['limits'] = {}): Promise<{ broker: Broker, url: string }> {
  const broker = await createBroker({
    logLevel: 'silent',
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    sessions: { store: 'memory' },
    limits,
  })
  onTestFinished(() => broker.close())
  return { broker, url: broker.addresses()[0]?.url ?? '' }
}

/** A QoS 0 subscriber to `t/#` that reads nothing after its SUBACK. */
async function stalledSubscriber (url: string): Promise<void> {
  const raw = await rawConnected(url, { clientId: 'stalled' })
  await rawSubscribe(raw, [{ topic: 't/#', qos: 0 }])
  raw.socket.pause()
}

// Enough to fill the kernel's buffers toward the stalled reader several times over.
const MESSAGES = 6000
const PAYLOAD = Buffer.alloc(2048, 'x')

describe('a QoS 0 subscriber that stops reading', () => {
  test('does not hold up the publisher or the other subscribers; what it cannot take is dropped and reported', async () => {
    const { broker, url } = await startBroker()
    const drops: DropEvent[] = []
    broker.on('drop', (drop) => { drops.push(drop) })
    await stalledSubscriber(url)
    const healthy = await connectClient(url, { clientId: 'healthy' })
    await healthy.subscribeAsync('t/#', { qos: 0 })
    let received = 0
    const sentinel = new Promise<void>((resolve) => {
      healthy.on('message', (topic) => {
        if (topic === 't/end') resolve()
        else received++
      })
    })

    const pub = await connectClient(url, { clientId: 'pub' })
    for (let i = 0; i < MESSAGES; i++) pub.publish('t/data', PAYLOAD, { qos: 0 })
    await pub.publishAsync('t/end', 'end', { qos: 0 })
    // Before the fix the publisher's messages stopped being routed once the stalled socket was full.
    await sentinel
    // An embedding gateway's own publish is not held either.
    await broker.publish({ topic: 't/api', payload: 'x', qos: 0 })

    expect(received).toBeGreaterThan(MESSAGES * 0.9)
    const stalledDrops = drops.filter((d) => d.clientId === 'stalled')
    expect(stalledDrops.length).toBeGreaterThan(0)
    expect(stalledDrops.every((d) => d.reason === 'slow_consumer' && d.message.topic.startsWith('t/'))).toBe(true)
    expect(await broker.metrics.metrics()).toMatch(/midge_dead_letters_total\{reason="slow_consumer"\} [1-9]/)
    await healthy.endAsync()
    await pub.endAsync()
  }, 20_000)

  test('with limits.slowConsumerBytes 0 nothing is dropped (aedes: the publisher waits for the socket)', async () => {
    const { broker, url } = await startBroker({ slowConsumerBytes: 0, drainTimeoutMs: 300 })
    const drops: DropEvent[] = []
    broker.on('drop', (drop) => { drops.push(drop) })
    await stalledSubscriber(url)
    const gone = new Promise<void>((resolve) => {
      broker.on('clientDisconnect', (client) => { if (client.id === 'stalled') resolve() })
    })
    const pub = await connectClient(url, { clientId: 'pub' })
    for (let i = 0; i < MESSAGES; i++) pub.publish('t/data', PAYLOAD, { qos: 0 })
    // The stalled reader holds everyone up until drainTimeoutMs closes it.
    await gone
    expect(drops).toEqual([])
    await pub.endAsync()
  }, 20_000)
})
