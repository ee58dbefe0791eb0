/**
 * Durable fan-in: N publishers → 10 persistent (clean=false) QoS 1
 * subscribers, all online and acking each delivery. With a durable store each
 * delivery is a queue entry written and then removed; this is the broker's
 * store on the hot path. Measures deliveries per second (messages ×
 * subscribers) from the first publish to the last distinct delivery.
 */
import { closeAll, connectMany, Countdown, now, runBounded } from '../lib/load.js'
import { PublishTemplate, readStamp } from '../lib/packets.js'
import { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const PUBLISHERS = 10
const SUBSCRIBERS = 10
const PAYLOAD_BYTES = 64
const WINDOW = 16
const TOPIC = 'bench/durable'
const perPublisher = (quick: boolean): number => (quick ? 100 : 300)
const timeoutMs = (quick: boolean): number => (quick ? 30_000 : 60_000)

export const durableFanIn: Scenario = {
  name: 'durable-fanin',
  describe: (quick) => `${PUBLISHERS} publishers → ${SUBSCRIBERS} clean=false QoS 1 subscribers (online, acking), ` +
    `${PUBLISHERS} × ${perPublisher(quick)} msgs of ${PAYLOAD_BYTES} B, window ${WINDOW}/publisher; deliveries/s`,
  // aedes and midge on their in-memory stores, midge on its durable default; mosquitto keeps sessions in memory.
  brokers: ['aedes', 'midge-nedb', 'midge', 'mosquitto'],
  timeoutMs,
  async run (ctx) {
    const each = perPublisher(ctx.quick)
    const messages = PUBLISHERS * each
    const total = messages * SUBSCRIBERS
    const deadline = now() + timeoutMs(ctx.quick) - 5_000
    const received = new Countdown(total)
    let duplicates = 0
    const clients: RawClient[] = []
    try {
      for (let s = 0; s < SUBSCRIBERS; s++) {
        // The payload carries a sequence number: a redelivery is not counted twice.
        const seen = new Uint8Array(messages)
        const onMessage = (packet: { payload: Buffer | string }): void => {
          const seq = readStamp(packet.payload)
          if (seq >= 0 && seq < messages && seen[seq] === 0) { seen[seq] = 1; received.add() } else duplicates++
        }
        const sub = await RawClient.connect({ port: ctx.port, clientId: `durable-sub-${s}`, clean: false, onMessage })
        clients.push(sub)
        if (sub.sessionPresent) throw new Error(`${sub.clientId}: a session was already there (the store is not fresh)`)
        if (await sub.subscribe(TOPIC, 1) !== 1) throw new Error(`${sub.clientId}: QoS 1 not granted`)
      }
      const pubs = await connectMany(PUBLISHERS, PUBLISHERS, deadline, { port: ctx.port }, 'durable-pub')
      clients.push(...pubs)
      const template = new PublishTemplate(TOPIC, 1, PAYLOAD_BYTES)
      const cpuBefore = await ctx.cpu()
      const start = now()
      const sent = (await Promise.all(pubs.map((p, i) => runBounded(each, WINDOW, deadline, (k) => p.publish(template, i * each + k)))))
        .reduce((a, b) => a + b, 0)
      const publishedAt = now()
      await received.wait(Math.max(1_000, deadline - now()), `deliveries (${sent} of ${messages} publishes acknowledged)`)
      const cpuAfter = await ctx.cpu()
      const elapsed = received.reachedAt - start
      if (duplicates > 0) ctx.warn(`${duplicates} duplicate deliveries (not counted)`)
      return [
        metric('deliveriesPerSec', 'msg/s delivered', perSecond(total, elapsed), 'higher'),
        ...cpuMetrics(cpuBefore, cpuAfter, total, 'msg'),
        metric('delivered', 'delivered', received.count, 'higher', true),
        metric('duplicates', 'duplicates', duplicates, 'lower', true),
        metric('elapsedMs', 'ms', elapsed, 'lower', true),
        metric('publishMsgPerSec', 'publish msg/s', perSecond(sent, publishedAt - start), 'higher', true),
      ]
    } finally {
      await closeAll(clients)
    }
  },
}
