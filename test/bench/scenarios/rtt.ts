/**
 * QoS 1 round trips, one at a time: a client subscribed to its own topic
 * publishes, waits for the PUBACK *and* the delivery of that message, then
 * sends the next. This request/response shape is what Nagle's algorithm
 * stalls when a broker writes one packet in several writes (DESIGN.md §3),
 * which pipelined load does not show.
 *
 * The first round trips run before V8 has compiled the paths they take, and
 * at one message at a time that warm-up was most of a 4,000-round run: its
 * figure swung 0.6–1.4× between runs of the same broker. So WARMUP rounds go
 * first, unmeasured, for every broker alike; the figure is the steady state a
 * long-running broker serves.
 */
import { DEFAULT_BROKERS } from '../lib/broker-names.js'
import { closeAll, Countdown, now } from '../lib/load.js'
import { PublishTemplate } from '../lib/packets.js'
import { RawClient } from '../lib/raw-client.js'
import { perSecond, summarize } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const TOPIC = 'bench/rtt'
const rounds = (quick: boolean): number => (quick ? 1_000 : 10_000)
const warmup = (quick: boolean): number => (quick ? 200 : 2_000)
/** The loop also stops after this long, so a stalled broker costs seconds, not minutes. */
const budgetMs = (quick: boolean): number => (quick ? 1_500 : 3_000)

export const rtt: Scenario = {
  name: 'rtt-qos1',
  describe: (quick) => `1 client subscribed to its own topic: QoS 1 publish → PUBACK + delivery → next; ${warmup(quick)} rounds unmeasured, then ${rounds(quick)} rounds or ${budgetMs(quick) / 1000} s`,
  brokers: [...DEFAULT_BROKERS, 'midge-core', 'aedes-nagle'],
  timeoutMs: (quick) => 2 * budgetMs(quick) + 15_000,
  async run (ctx) {
    let echo = new Countdown(1)
    const client = await RawClient.connect({ port: ctx.port, clientId: 'rtt', onMessage: () => { echo.add() } })
    try {
      await client.subscribe(TOPIC, 1)
      const template = new PublishTemplate(TOPIC, 1, 64)
      const roundTrip = async (): Promise<number> => {
        echo = new Countdown(1)
        const t0 = now()
        await Promise.all([client.publish(template, t0), echo.wait(5_000, 'echo')])
        return now() - t0
      }
      const warmupEnds = now() + budgetMs(ctx.quick)
      for (let i = 0; i < warmup(ctx.quick) && now() < warmupEnds; i++) await roundTrip()
      const times: number[] = []
      const cpuBefore = await ctx.cpu()
      const start = now()
      const stopAt = start + budgetMs(ctx.quick)
      for (let i = 0; i < rounds(ctx.quick) && now() < stopAt; i++) times.push(await roundTrip())
      const elapsed = now() - start
      const cpuAfter = await ctx.cpu()
      const s = summarize(times)
      return [
        metric('roundTripsPerSec', 'round trips/s', perSecond(times.length, elapsed), 'higher'),
        ...cpuMetrics(cpuBefore, cpuAfter, times.length, 'round trips'),
        metric('p50Ms', 'p50 ms', s.p50, 'lower', true),
        metric('p99Ms', 'p99 ms', s.p99, 'lower', true),
        metric('rounds', 'rounds', times.length, 'higher', true),
      ]
    } finally {
      await closeAll([client])
    }
  },
}
