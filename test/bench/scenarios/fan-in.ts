/**
 * Fan-in: N publishers → 1 subscriber on one topic. Measures messages per
 * second delivered end to end: from the first publish to the last delivery.
 */
import type { QoS } from 'mqtt-packet'
import type { BrokerName } from '../lib/broker-names.js'
import { closeAll, connectMany, Countdown, now, publishMany } from '../lib/load.js'
import { PublishTemplate } from '../lib/packets.js'
import { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const PUBLISHERS = 10
const PAYLOAD_BYTES = 64
/** Unacknowledged QoS 1/2 publishes per publisher. */
const WINDOW = 16
const PER_PUBLISHER: Record<QoS, { full: number, quick: number }> = {
  0: { full: 10_000, quick: 2_000 },
  1: { full: 10_000, quick: 1_000 },
  2: { full: 5_000, quick: 500 },
}

/** `brokers`: where it runs (default aedes, midge, mosquitto), e.g. with the midge plugin-off variants. */
export function fanIn (qos: QoS, brokers?: readonly BrokerName[]): Scenario {
  const count = (quick: boolean): number => PER_PUBLISHER[qos][quick ? 'quick' : 'full']
  const timeoutMs = (quick: boolean): number => (quick ? 20_000 : 30_000)
  return {
    name: `fanin-qos${qos}`,
    describe: (quick) => `${PUBLISHERS} publishers → 1 subscriber, QoS ${qos}, ${PUBLISHERS} × ${count(quick)} msgs of ${PAYLOAD_BYTES} B` +
      (qos > 0 ? `, window ${WINDOW}/publisher` : ''),
    timeoutMs,
    ...(brokers !== undefined ? { brokers } : {}),
    async run (ctx) {
      const topic = `bench/fanin/${qos}`
      const perPublisher = count(ctx.quick)
      const total = PUBLISHERS * perPublisher
      const deadline = now() + timeoutMs(ctx.quick) - 5_000
      const received = new Countdown(total)
      const sub = await RawClient.connect({ port: ctx.port, clientId: `fanin-sub-${qos}`, onMessage: () => { received.add() } })
      const pubs: RawClient[] = []
      try {
        await sub.subscribe(topic, qos)
        pubs.push(...await connectMany(PUBLISHERS, PUBLISHERS, deadline, { port: ctx.port }, `fanin-pub-${qos}`))
        const template = new PublishTemplate(topic, qos, PAYLOAD_BYTES)
        const cpuBefore = await ctx.cpu()
        const start = now()
        const sent = (await Promise.all(pubs.map((p) => publishMany(p, template, perPublisher, WINDOW, deadline)))).reduce((a, b) => a + b, 0)
        const publishedAt = now()
        if (qos === 0) await received.settle(1_000, Math.max(1_000, deadline - now()))
        else await received.wait(Math.max(1_000, deadline - now()), `QoS ${qos} messages delivered (${sent} publishes acknowledged)`)
        const cpuAfter = await ctx.cpu()
        if (received.count < total) ctx.warn(`${total - received.count} of ${total} QoS 0 messages not delivered (${sent} written by the publishers)`)
        const end = received.count >= total ? received.reachedAt : received.lastAt
        const elapsed = end - start
        return [
          metric('msgPerSec', 'msg/s', perSecond(received.count, elapsed), 'higher'),
          ...cpuMetrics(cpuBefore, cpuAfter, received.count, 'msg'),
          metric('delivered', 'delivered', received.count, 'higher', true),
          metric('sent', 'sent', sent, 'higher', true),
          metric('lost', 'lost', total - received.count, 'lower', true),
          metric('elapsedMs', 'ms', elapsed, 'lower', true),
          metric('publishMsgPerSec', 'publish msg/s', perSecond(sent, publishedAt - start), 'higher', true),
        ]
      } finally {
        await closeAll([sub, ...pubs])
      }
    },
  }
}
