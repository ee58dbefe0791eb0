/**
 * QoS 1 latency at a fixed offered rate: one publisher paced at RATE msg/s,
 * one subscriber; each payload carries the time it was written to the socket
 * and the subscriber records publish → receive (same process, same clock).
 * The first WARMUP_MS of messages are not recorded.
 */
import { DEFAULT_BROKERS } from '../lib/broker-names.js'
import { closeAll, connectMany, Countdown, now, sleep } from '../lib/load.js'
import { PublishTemplate, readStamp } from '../lib/packets.js'
import type { RawClient } from '../lib/raw-client.js'
import { perSecond, summarize } from '../lib/stats.js'
import { metric, type Scenario } from './types.js'

const RATE = 2_000
const WARMUP_MS = 500
const PAYLOAD_BYTES = 64
/** More unacknowledged publishes than this means the broker cannot sustain RATE. */
const MAX_INFLIGHT = 2_000

const durationMs = (quick: boolean): number => (quick ? 2_000 : 5_000)
const timeoutMs = (quick: boolean): number => durationMs(quick) + 20_000

export const latency: Scenario = {
  name: 'latency-qos1',
  describe: (quick) => `QoS 1, 1 → 1, ${RATE} msg/s for ${durationMs(quick) / 1000} s (after ${WARMUP_MS} ms warm-up), publish → receive`,
  brokers: [...DEFAULT_BROKERS, 'aedes-nagle'],
  timeoutMs,
  async run (ctx) {
    const total = Math.round((RATE * (WARMUP_MS + durationMs(ctx.quick))) / 1000)
    const intervalMs = 1000 / RATE
    const samples: number[] = []
    const received = new Countdown(total)
    let measureFrom = Number.POSITIVE_INFINITY
    const onMessage = (packet: { payload: Buffer | string }): void => {
      const stamp = readStamp(packet.payload)
      if (stamp >= measureFrom) samples.push(now() - stamp)
      received.add()
    }
    const clients: RawClient[] = []
    try {
      const deadline = now() + timeoutMs(ctx.quick) - 5_000
      const [sub] = await connectMany(1, 1, deadline, { port: ctx.port, onMessage }, 'latency-sub')
      const [pub] = await connectMany(1, 1, deadline, { port: ctx.port }, 'latency-pub')
      if (sub === undefined || pub === undefined) throw new Error('clients missing')
      clients.push(sub, pub)
      await sub.subscribe('bench/latency', 1)
      const template = new PublishTemplate('bench/latency', 1, PAYLOAD_BYTES)

      let failure: unknown = null
      let sent = 0
      const start = now()
      measureFrom = start + WARMUP_MS
      // Paced in 1 ms ticks: each tick sends what the schedule says is due.
      while (sent < total && now() < deadline && failure === null) {
        const due = Math.min(total, Math.floor((now() - start) / intervalMs) + 1)
        for (; sent < due; sent++) {
          if (pub.inflight >= MAX_INFLIGHT) throw new Error(`more than ${MAX_INFLIGHT} QoS 1 publishes unacknowledged: the broker cannot sustain ${RATE} msg/s`)
          pub.publish(template, now()).catch((err: unknown) => { failure ??= err })
        }
        await sleep(1)
      }
      const sendMs = now() - start
      if (failure !== null) throw failure
      await received.wait(Math.max(1_000, deadline - now()), 'messages received')
      const s = summarize(samples)
      return [
        metric('p50Ms', 'p50 ms', s.p50, 'lower'),
        metric('p99Ms', 'p99 ms', s.p99, 'lower'),
        metric('maxMs', 'max ms', s.max, 'lower'),
        metric('meanMs', 'mean ms', s.mean, 'lower', true),
        metric('p90Ms', 'p90 ms', s.p90, 'lower', true),
        metric('p999Ms', 'p99.9 ms', s.p999, 'lower', true),
        metric('samples', 'samples', s.count, 'higher', true),
        metric('offeredMsgPerSec', 'offered msg/s', perSecond(sent, sendMs), 'higher', true),
      ]
    } finally {
      await closeAll(clients)
    }
  },
}
