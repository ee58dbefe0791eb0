/**
 * Persistent backlog drain: a clean=false QoS 1 subscriber subscribes and
 * disconnects; MESSAGES QoS 1 messages are published (all acknowledged);
 * then the subscriber reconnects and acks each delivery. Measures the time
 * from sending CONNECT to the last distinct message received.
 */
import { closeAll, connectMany, Countdown, now, runBounded } from '../lib/load.js'
import { PublishTemplate, readStamp } from '../lib/packets.js'
import { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const WINDOW = 16
const TOPIC = 'bench/backlog'
const SUBSCRIBER = 'backlog-sub'
const messages = (quick: boolean): number => (quick ? 5_000 : 20_000)

export const backlog: Scenario = {
  name: 'backlog',
  describe: (quick) => `clean=false QoS 1 subscriber offline while ${messages(quick)} QoS 1 msgs are published; reconnect → last received (acking each)`,
  // Every broker must hold the whole backlog: brokers.ts lifts midge's and Mosquitto's
  // per-session queue bounds for every scenario (aedes has none).
  brokers: ['aedes', 'midge', 'mosquitto', 'midge-nedb'],
  timeoutMs: (quick) => (quick ? 30_000 : 90_000),
  async run (ctx) {
    const total = messages(ctx.quick)
    const deadline = now() + (ctx.quick ? 25_000 : 80_000)
    const clients: RawClient[] = []
    try {
      const first = await RawClient.connect({ port: ctx.port, clientId: SUBSCRIBER, clean: false })
      await first.subscribe(TOPIC, 1)
      await first.disconnect()

      const [pub] = await connectMany(1, 1, deadline, { port: ctx.port }, 'backlog-pub')
      if (pub === undefined) throw new Error('publisher missing')
      clients.push(pub)
      const template = new PublishTemplate(TOPIC, 1, 64)
      const publishStart = now()
      // The payload carries the sequence number, so duplicates are not counted twice.
      const published = await runBounded(total, WINDOW, deadline, (i) => pub.publish(template, i))
      const publishMs = now() - publishStart
      if (published < total) throw new Error(`published only ${published}/${total} before the deadline`)
      const rssQueued = await ctx.rss()

      const seen = new Uint8Array(total)
      const received = new Countdown(total)
      let duplicates = 0
      let firstAt = Number.NaN
      const onMessage = (packet: { payload: Buffer | string }): void => {
        if (Number.isNaN(firstAt)) firstAt = now()
        const seq = readStamp(packet.payload)
        if (seq >= 0 && seq < total && seen[seq] === 0) { seen[seq] = 1; received.add() } else duplicates++
      }
      const cpuBefore = await ctx.cpu()
      const start = now()
      const sub = await RawClient.connect({ port: ctx.port, clientId: SUBSCRIBER, clean: false, onMessage })
      clients.push(sub)
      if (!sub.sessionPresent) throw new Error('session not present on reconnect')
      await received.wait(Math.max(1_000, deadline - now()), 'queued messages received')
      const cpuAfter = await ctx.cpu()
      const drainMs = received.reachedAt - start
      return [
        metric('drainMs', 'drain ms', drainMs, 'lower'),
        metric('drainMsgPerSec', 'drain msg/s', perSecond(total, drainMs), 'higher'),
        metric('firstMs', 'first message ms', firstAt - start, 'lower', true),
        ...cpuMetrics(cpuBefore, cpuAfter, total, 'drain msg'),
        metric('publishMsgPerSec', 'publish msg/s', perSecond(total, publishMs), 'higher', true),
        metric('rssQueuedBytes', 'RSS with backlog', rssQueued, 'lower', true),
        metric('duplicates', 'duplicates', duplicates, 'lower', true),
      ]
    } finally {
      await closeAll(clients)
    }
  },
}
