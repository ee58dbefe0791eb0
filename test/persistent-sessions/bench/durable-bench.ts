/**
 * Durable delivery, side by side in one run: plain aedes 1.2 (its memory
 * store) against midge on the nedb store (files in a fresh temp dir), and
 * midge on the memory store for reference. Each run starts a fresh broker
 * process; brokers alternate, so noise on this shared machine hits each alike.
 *
 * - `fanin`: 10 publishers × N QoS 1 messages (window 16 each) to 10 online
 *   persistent (clean=false) QoS 1 subscribers. Figure: deliveries/s, from
 *   the first publish to the last delivery.
 * - `backlog`: a clean=false QoS 1 subscriber is away while 20,000 QoS 1
 *   messages are published; figure: ms from its reconnect to the last message.
 *
 *   node dist/test/persistent-sessions/bench/durable-bench.js [--runs 5] [--only fanin|backlog] [--brokers aedes,midge-nedb,midge-memory]
 *
 * `--port N` drives a broker that is already running instead (one run, e.g. to profile it).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, type BrokerProcess } from '../../bench/lib/brokers.js'
import { closeAll, connectMany, Countdown, now, publishMany, runBounded } from '../../bench/lib/load.js'
import { PublishTemplate, readStamp } from '../../bench/lib/packets.js'
import { RawClient } from '../../bench/lib/raw-client.js'
import { median, perSecond } from '../../bench/lib/stats.js'

type Contender = 'aedes' | 'midge-nedb' | 'midge-memory'

const PUBLISHERS = 10
const SUBSCRIBERS = 10
const WINDOW = 16
const PAYLOAD = 64

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const runs = Number(arg('runs') ?? 5)
const perPublisher = Number(arg('messages') ?? 2_000)
const backlogSize = Number(arg('backlog') ?? 20_000)
const only = arg('only')
const contenders = (arg('brokers') ?? 'aedes,midge-nedb,midge-memory').split(',') as Contender[]

async function start (who: Contender): Promise<{ broker: BrokerProcess, cleanup: () => Promise<void> }> {
  if (who === 'aedes') {
    const broker = await startBroker('aedes')
    return { broker, cleanup: () => broker.stop() }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-durable-bench-'))
  const store = who === 'midge-nedb' ? 'nedb' : 'memory'
  const broker = await startBroker('midge', { midgeConfig: { dataDir, sessions: { store } } })
  return { broker, cleanup: async () => { await broker.stop(); await rm(dataDir, { recursive: true, force: true }) } }
}

/** Deliveries per second to 10 online persistent subscribers. */
async function fanin (port: number): Promise<number> {
  const topic = 'bench/durable/fanin'
  const total = PUBLISHERS * perPublisher
  const deadline = now() + 60_000
  const received = new Countdown(total * SUBSCRIBERS)
  const clients: RawClient[] = []
  try {
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const sub = await RawClient.connect({ port, clientId: `durable-sub-${i}`, clean: false, onMessage: () => { received.add() } })
      clients.push(sub)
      await sub.subscribe(topic, 1)
    }
    const pubs = await connectMany(PUBLISHERS, PUBLISHERS, deadline, { port }, 'durable-pub')
    clients.push(...pubs)
    const template = new PublishTemplate(topic, 1, PAYLOAD)
    const t0 = now()
    await Promise.all(pubs.map((p) => publishMany(p, template, perPublisher, WINDOW, deadline)))
    await received.wait(Math.max(1_000, deadline - now()), 'deliveries')
    return perSecond(total * SUBSCRIBERS, received.reachedAt - t0)
  } finally {
    await closeAll(clients)
  }
}

/** ms from reconnect to the last of `backlogSize` queued messages. */
async function backlog (port: number): Promise<number> {
  const topic = 'bench/durable/backlog'
  const deadline = now() + 80_000
  const first = await RawClient.connect({ port, clientId: 'durable-backlog', clean: false })
  await first.subscribe(topic, 1)
  await first.disconnect()
  const [pub] = await connectMany(1, 1, deadline, { port }, 'durable-backlog-pub')
  if (pub === undefined) throw new Error('no publisher')
  const template = new PublishTemplate(topic, 1, PAYLOAD)
  await runBounded(backlogSize, WINDOW, deadline, (i) => pub.publish(template, i))
  const seen = new Uint8Array(backlogSize)
  const received = new Countdown(backlogSize)
  const t0 = now()
  const sub = await RawClient.connect({
    port,
    clientId: 'durable-backlog',
    clean: false,
    onMessage: (p) => {
      const seq = readStamp(p.payload)
      if (seq >= 0 && seq < backlogSize && seen[seq] === 0) { seen[seq] = 1; received.add() }
    },
  })
  try {
    if (!sub.sessionPresent) throw new Error('session not present')
    await received.wait(Math.max(1_000, deadline - now()), 'backlog messages')
    return received.reachedAt - t0
  } finally {
    await closeAll([pub, sub])
  }
}

const scenarios = { fanin, backlog } as const
const unit = { fanin: 'deliveries/s', backlog: 'ms' } as const

const external = arg('port')
if (external !== undefined) {
  for (const [name, run] of Object.entries(scenarios)) {
    if (only === undefined || only === name) console.log(name, Math.round(await run(Number(external))))
  }
  process.exit(0)
}

for (const [name, run] of Object.entries(scenarios) as Array<[keyof typeof scenarios, (port: number) => Promise<number>]>) {
  if (only !== undefined && only !== name) continue
  const values: Record<string, number[]> = {}
  for (let r = 0; r < runs; r++) {
    for (const who of contenders) {
      const { broker, cleanup } = await start(who)
      try {
        const v = await run(broker.port);
        (values[who] ??= []).push(v)
      } catch (err) {
        process.stderr.write(`${name} ${who} run ${r + 1}: ${(err as Error).message}\n${broker.stderrTail()}\n`)
      } finally {
        await cleanup()
      }
    }
  }
  const base = median(values.aedes ?? [])
  console.log(`\n${name} (${unit[name]}, median of ${runs}; ${name === 'fanin' ? `${PUBLISHERS}×${perPublisher} msgs → ${SUBSCRIBERS} subs` : `${backlogSize} msgs`})`)
  for (const who of contenders) {
    const m = median(values[who] ?? [])
    const all = (values[who] ?? []).map((v) => Math.round(v)).join(' ')
    console.log(`  ${who.padEnd(14)} ${Math.round(m).toString().padStart(8)}   ×${(m / base).toFixed(2)} vs aedes   [${all}]`)
  }
}
