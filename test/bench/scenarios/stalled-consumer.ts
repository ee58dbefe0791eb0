/**
 * Stalled consumer isolation: one publisher, QoS 1, to 9 healthy subscribers,
 * alone (baseline), then with a 10th subscriber on the topic that stalls, then
 * alone again once it is gone (a second baseline, so warm-up and drift do not
 * favour either side). Measures what the healthy ones keep: their delivered
 * msg/s with the stalled one present ÷ the mean of the two baselines (goal ≥ 0.9).
 *
 * Two ways to stall:
 * - `no-read` (the default scenario): the consumer stops reading its socket, as a
 *   hung process, a blocked event loop or an MQTT.js client whose message
 *   handler never returns does. A broker without a per-client window (aedes)
 *   keeps writing to it until the kernel buffers (~4 MB on loopback) are full;
 *   from then on its deliveries wait for `drain` and hold the emitter, so
 *   everyone waits until `drainTimeout` (60 s by default) drops the consumer.
 *   Payloads are 1 KiB so that the buffers fill within the run; the KiB queued
 *   in the kernel toward the stalled one is reported.
 * - `no-ack` (optional): it reads everything but never sends PUBACK. That
 *   never fills a socket, so it only shows the cost of holding its messages.
 *
 * The stalled phase has a budget of 2× the first baseline (at least 1.5 s):
 * healthy msg/s is what arrived within it, and the share that arrived is reported.
 */
import { closeAll, connectMany, Countdown, now, runBounded, withTimeout } from '../lib/load.js'
import { PublishTemplate } from '../lib/packets.js'
import { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { bytesQueuedToward } from '../lib/tcp-queues.js'
import { metric, type Metric, type Scenario, type ScenarioContext } from './types.js'

export type StallMode = 'no-read' | 'no-ack'

const HEALTHY = 9
const PAYLOAD_BYTES = 1024
const WINDOW = 16
const BASE_TOPIC = 'bench/stalled/base'
const STALLED_TOPIC = 'bench/stalled/with'
/**
 * 5,000 × 1 KiB, quick or not: above the ~4 MB a loopback connection buffers,
 * so a consumer that stops reading fills its socket well within the phase.
 */
const MESSAGES = 5_000
const warmup = (quick: boolean): number => (quick ? 500 : 1_000)
const timeoutMs = (quick: boolean): number => (quick ? 30_000 : 45_000)
/** Enough to tell 0.9 from a stall on a noisy machine, short enough that a stalling broker costs seconds. */
const BUDGET_FACTOR = 2
const MIN_BUDGET_MS = 1_500
/** After the stalled consumer is gone: how long deliveries may pause before the backlog counts as drained. */
const SETTLE_IDLE_MS = 300

interface Phase {
  healthy: number
  target: number
  elapsedMs: number
  acked: () => number
  /** Settles once every publish of the phase is acknowledged or abandoned. */
  publishing: Promise<unknown>
}

export function stalledConsumer (mode: StallMode): Scenario {
  return {
    name: mode === 'no-read' ? 'stalled-noread' : 'stalled-noack',
    describe: (quick) => `1 publisher → ${HEALTHY} healthy QoS 1 subscribers, ${MESSAGES} msgs of ${PAYLOAD_BYTES} B, window ${WINDOW}: ` +
      `alone vs with a 10th that ${mode === 'no-read' ? 'stops reading its socket' : 'reads but never acks'}; healthy msg/s kept`,
    brokers: ['aedes', 'midge', 'mosquitto', 'midge-nopriority'],
    ...(mode === 'no-ack' ? { optional: true } : {}),
    timeoutMs,
    run: (ctx) => measure(ctx, mode),
  }
}

async function measure (ctx: ScenarioContext, mode: StallMode): Promise<Metric[]> {
  const count = MESSAGES
  const deadline = now() + timeoutMs(ctx.quick) - 5_000
  let phase = new Countdown(0)
  const clients: RawClient[] = []
  let stalled: RawClient | undefined
  try {
    const healthy = await connectMany(HEALTHY, HEALTHY, deadline, { port: ctx.port, onMessage: () => { phase.add() } }, 'stalled-healthy')
    clients.push(...healthy)
    await Promise.all(healthy.flatMap((s) => [s.subscribe(BASE_TOPIC, 1), s.subscribe(STALLED_TOPIC, 1)]))
    const [pub] = await connectMany(1, 1, deadline, { port: ctx.port }, 'stalled-pub')
    if (pub === undefined) throw new Error('no publisher')
    clients.push(pub)
    const template = (topic: string): PublishTemplate => new PublishTemplate(topic, 1, PAYLOAD_BYTES)

    /** Publishes `n` messages to `topic`; resolves when the healthy ones have them all, or when `budgetMs` is over. */
    const run = async (topic: string, n: number, budgetMs: number): Promise<Phase> => {
      const target = HEALTHY * n
      const counter = new Countdown(target)
      phase = counter
      let acked = 0
      const start = now()
      const publishing = runBounded(n, WINDOW, start + budgetMs, () => pub.publish(template(topic), now()).then(() => { acked++ }))
      // A broker that blocks never acks the last window; the publisher's close rejects those later.
      publishing.catch(() => undefined)
      await counter.wait(budgetMs, 'healthy deliveries').catch(() => undefined)
      const done = counter.count >= target
      return { healthy: counter.count, target, elapsedMs: (done ? counter.reachedAt : now()) - start, acked: () => acked, publishing }
    }
    const complete = (p: Phase, what: string): Phase => {
      if (p.healthy < p.target) throw new Error(`${what} incomplete: ${p.healthy}/${p.target} deliveries`)
      return p
    }
    const rate = (p: Phase): number => perSecond(p.healthy, p.elapsedMs)

    // Warm-up (JIT, TCP windows), then the first baseline on the same topic.
    await run(BASE_TOPIC, warmup(ctx.quick), Math.max(1_000, deadline - now()))
    const before = complete(await run(BASE_TOPIC, count, Math.max(1_000, deadline - now())), 'first baseline')

    let stalledReceived = 0
    stalled = await RawClient.connect({
      port: ctx.port,
      clientId: 'stalled-consumer',
      autoAck: mode !== 'no-ack',
      onMessage: () => { stalledReceived++ },
    })
    await stalled.subscribe(STALLED_TOPIC, 1)
    if (mode === 'no-read') stalled.stopReading()
    const budgetMs = Math.min(Math.max(BUDGET_FACTOR * before.elapsedMs, MIN_BUDGET_MS), Math.max(1_000, deadline - now()))
    const during = await run(STALLED_TOPIC, count, budgetMs)
    const queuedBytes = await bytesQueuedToward(stalled.localPort)
    const ackedDuring = during.acked()

    // Gone: a broker blocked on it resumes; what it held back reaches the healthy ones before the second baseline.
    stalled.destroy()
    await withTimeout(during.publishing, Math.max(1_000, deadline - now()), () => 'publishes of the stalled phase still unacknowledged after the stalled consumer left')
    await phase.settle(SETTLE_IDLE_MS, Math.max(1_000, deadline - now()))
    const after = complete(await run(BASE_TOPIC, count, Math.max(1_000, deadline - now())), 'second baseline')

    const baseRate = (rate(before) + rate(after)) / 2
    const deliveredPct = (100 * during.healthy) / during.target
    if (deliveredPct < 100) {
      ctx.warn(`with the stalled consumer, healthy subscribers got ${deliveredPct.toFixed(0)}% of the messages within the ${(budgetMs / 1000).toFixed(1)} s budget` +
        ` (${(queuedBytes / 1024).toFixed(0)} KiB queued in the kernel toward the stalled one)`)
    }
    return [
      metric('keptRatio', 'healthy kept ×', rate(during) / baseRate, 'higher'),
      metric('baseMsgPerSec', 'healthy msg/s alone', baseRate, 'higher'),
      metric('stalledMsgPerSec', 'healthy msg/s stalled', rate(during), 'higher'),
      metric('deliveredPct', 'healthy delivered %', deliveredPct, 'higher'),
      metric('stalledQueuedKiB', 'KiB queued toward the stalled one (kernel)', queuedBytes / 1024, 'lower', true),
      metric('stalledReceived', 'msgs the stalled one read', stalledReceived, 'lower', true),
      metric('publishAcked', 'publishes acked in the stalled phase', ackedDuring, 'higher', true),
      metric('budgetMs', 'stalled phase budget ms', budgetMs, 'lower', true),
      metric('beforeMsgPerSec', 'healthy msg/s, first baseline', rate(before), 'higher', true),
      metric('afterMsgPerSec', 'healthy msg/s, second baseline', rate(after), 'higher', true),
      metric('stalledElapsedMs', 'stalled phase ms', during.elapsedMs, 'lower', true),
    ]
  } finally {
    // The stalled one first (again, on an early exit): a broker blocked on it lets the others go.
    stalled?.destroy()
    await closeAll(clients)
  }
}
