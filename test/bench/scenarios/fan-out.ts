/**
 * Fan-out: 1 publisher → 100 subscribers on one topic. Measures deliveries
 * per second (messages × subscribers) from the first publish to the last delivery.
 */
import type { QoS } from 'mqtt-packet'
import type { BrokerName } from '../lib/broker-names.js'
import { closeAll, connectMany, Countdown, now, publishMany } from '../lib/load.js'
import { PublishTemplate } from '../lib/packets.js'
import type { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const SUBSCRIBERS = 100
const PAYLOAD_BYTES = 64
const WINDOW = 16
const MESSAGES: Record<0 | 1, { full: number, quick: number }> = {
  0: { full: 3_000, quick: 300 },
  1: { full: 1_500, quick: 150 },
}

/** `brokers`: where it runs (default aedes, midge, mosquitto), e.g. with the midge plugin-off variants. */
export function fanOut (qos: 0 | 1, brokers?: readonly BrokerName[]): Scenario {
  const count = (quick: boolean): number => MESSAGES[qos][quick ? 'quick' : 'full']
  const timeoutMs = (quick: boolean): number => (quick ? 20_000 : 30_000)
  return {
    name: `fanout-qos${qos}`,
    describe: (quick) => `1 publisher → ${SUBSCRIBERS} subscribers, QoS ${qos}, ${count(quick)} msgs of ${PAYLOAD_BYTES} B` +
      (qos > 0 ? `, window ${WINDOW}` : ''),
    timeoutMs,
    ...(brokers !== undefined ? { brokers } : {}),
    async run (ctx) {
      const topic = `bench/fanout/${qos}`
      const messages = count(ctx.quick)
      const total = messages * SUBSCRIBERS
      const deadline = now() + timeoutMs(ctx.quick) - 5_000
      const received = new Countdown(total)
      const clients: RawClient[] = []
      try {
        const subs = await connectMany(SUBSCRIBERS, 50, deadline, { port: ctx.port, onMessage: () => { received.add() } }, `fanout-sub-${qos}`)
        clients.push(...subs)
        await Promise.all(subs.map((s) => s.subscribe(topic, qos)))
        const [pub] = await connectMany(1, 1, deadline, { port: ctx.port }, `fanout-pub-${qos}`)
        if (pub === undefined) throw new Error('no publisher')
        clients.push(pub)
        const template = new PublishTemplate(topic, qos, PAYLOAD_BYTES)
        const cpuBefore = await ctx.cpu()
        const start = now()
        const sent = await publishMany(pub, template, messages, WINDOW, deadline)
        if (qos === 0) await received.settle(1_000, Math.max(1_000, deadline - now()))
        else await received.wait(Math.max(1_000, deadline - now()), `QoS ${qos} deliveries (${sent} publishes acknowledged)`)
        const cpuAfter = await ctx.cpu()
        if (received.count < total) ctx.warn(`${total - received.count} of ${total} QoS 0 deliveries missing (${sent} of ${messages} messages written by the publisher)`)
        const end = received.count >= total ? received.reachedAt : received.lastAt
        const elapsed = end - start
        return [
          metric('deliveriesPerSec', 'deliveries/s', perSecond(received.count, elapsed), 'higher'),
          ...cpuMetrics(cpuBefore, cpuAfter, received.count, 'deliveries'),
          metric('delivered', 'delivered', received.count, 'higher', true),
          metric('sent', 'sent', sent, 'higher', true),
          metric('lost', 'lost', sent * SUBSCRIBERS - received.count, 'lower', true),
          metric('elapsedMs', 'ms', elapsed, 'lower', true),
        ]
      } finally {
        await closeAll(clients)
      }
    },
  }
}
