/**
 * Disk use of the nedb session store under sustained load: does the datafile
 * stay proportional to the live data (compaction), or grow with traffic?
 *
 * midge (nedb store, default `maxQueued` 10,000 and compaction settings) runs
 * in its own process. For `--seconds` (default 60): 2 publishers send QoS 1
 * messages of 256 bytes (window 16 each) to 5 online persistent subscribers
 * that ack everything, one of which leaves and resumes its session every 5 s;
 * one persistent subscriber stays away (its queue fills to `maxQueued`, then
 * overflows); 100 retained topics are rewritten in turn. Every second the
 * store's own figures are read from `/metrics`. At the end: the file while
 * idle, and after a restart (compaction at load).
 *
 *   node dist/test/persistent-sessions/bench/disk-soak.js [--seconds 60]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBroker, type BrokerProcess } from '../../bench/lib/brokers.js'
import { now, sleep } from '../../bench/lib/load.js'
import { PublishTemplate } from '../../bench/lib/packets.js'
import { RawClient } from '../../bench/lib/raw-client.js'
import { freePort } from '../../helpers/free-port.js'

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const seconds = Number(arg('seconds') ?? 60)
const TOPIC = 'soak/data'
const PAYLOAD = 256

interface Sample { t: number, fileBytes: number, messages: number, messageBytes: number, queued: number }

async function readFigures (metricsUrl: string, t: number): Promise<Sample> {
  const text = await (await fetch(metricsUrl)).text()
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return {
    t,
    fileBytes: value('midge_store_bytes'),
    messages: value('midge_store_messages'),
    messageBytes: value('midge_store_message_bytes'),
    queued: value('midge_session_queued_messages'),
  }
}

async function start (dataDir: string, httpPort: number): Promise<{ broker: BrokerProcess, metricsUrl: string }> {
  const broker = await startBroker('midge', {
    midgeConfig: {
      dataDir,
      // the store's defaults, not the bench runner's lifted queue bound
      sessions: { store: 'nedb', maxQueued: 10_000 },
      listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: httpPort }],
    },
  })
  return { broker, metricsUrl: `http://127.0.0.1:${httpPort}/metrics` }
}

const mb = (n: number): string => (n / 1e6).toFixed(1).padStart(7)
const dataDir = await mkdtemp(join(tmpdir(), 'midge-disk-soak-'))
const httpPort = await freePort()
const { broker, metricsUrl } = await start(dataDir, httpPort)
const port = broker.port
const clients: RawClient[] = []
const samples: Sample[] = []
let published = 0
try {
  const away = await RawClient.connect({ port, clientId: 'soak-away', clean: false })
  await away.subscribe('soak/#', 1)
  await away.disconnect()
  const online: Array<RawClient | undefined> = []
  for (let i = 0; i < 5; i++) {
    const sub = await RawClient.connect({ port, clientId: `soak-sub-${i}`, clean: false })
    await sub.subscribe('soak/#', 1)
    online.push(sub)
  }
  const pubs = await Promise.all([0, 1].map((i) => RawClient.connect({ port, clientId: `soak-pub-${i}` })))
  clients.push(...pubs)
  const template = new PublishTemplate(TOPIC, 1, PAYLOAD)
  const retained = Array.from({ length: 100 }, (_, i) => new PublishTemplate(`soak/retained/${i}`, 1, PAYLOAD))
  const t0 = now()
  const end = t0 + seconds * 1000
  let stop = false

  const publisher = async (pub: RawClient, offset: number): Promise<void> => {
    const inflight = new Set<Promise<void>>()
    let n = 0
    while (!stop) {
      // every 50th message rewrites a retained topic (retain flag set in the template's first byte)
      const msg = n % 50 === 0 ? pub.publish(withRetain(retained[(n / 50 + offset) % 100] ?? template), n) : pub.publish(template, n)
      n++
      const p = msg.then(() => { inflight.delete(p); published++ })
      inflight.add(p)
      if (inflight.size >= 16) await Promise.race(inflight)
    }
    await Promise.allSettled(inflight)
  }
  const churn = async (): Promise<void> => {
    for (let k = 0; !stop; k++) {
      await sleep(5_000)
      if (stop) break
      const i = k % online.length
      await online[i]?.disconnect()
      online[i] = await RawClient.connect({ port, clientId: `soak-sub-${i}`, clean: false })
    }
  }
  const sampler = async (): Promise<void> => {
    while (!stop) {
      await sleep(1_000)
      samples.push(await readFigures(metricsUrl, (now() - t0) / 1000))
    }
  }
  const running = [publisher(pubs[0] as RawClient, 0), publisher(pubs[1] as RawClient, 50), churn(), sampler()]
  await sleep(Math.max(0, end - now())) // the soak runs for a fixed time
  stop = true
  await Promise.all(running)
  clients.push(...online.filter((c): c is RawClient => c !== undefined))

  // let the online subscribers catch up: only the away session's queue should remain
  const idleBy = now() + 30_000
  let idle = await readFigures(metricsUrl, (now() - t0) / 1000)
  while (idle.queued > 10_000 && now() < idleBy) {
    await sleep(250)
    idle = await readFigures(metricsUrl, (now() - t0) / 1000)
  }
  for (const c of clients) await c.disconnect()
  clients.length = 0
  await broker.stop()

  const again = await start(dataDir, httpPort)
  const restarted = await readFigures(again.metricsUrl, 0)
  await again.broker.stop()

  console.log(`disk soak: ${seconds} s, ${published.toLocaleString('en-US')} QoS 1 publishes acknowledged (${Math.round(published / seconds).toLocaleString('en-US')}/s) → 5 online + 1 away persistent subscribers`)
  console.log('     s   file MB   live msgs   live payload MB   queued')
  for (const s of samples.filter((_, i) => i % 5 === 4)) {
    console.log(`${s.t.toFixed(0).padStart(6)}  ${mb(s.fileBytes)}   ${String(s.messages).padStart(9)}   ${mb(s.messageBytes)}          ${String(s.queued).padStart(7)}`)
  }
  const peak = samples.reduce((m, s) => (s.fileBytes > m.fileBytes ? s : m), samples[0] ?? idle)
  console.log(`peak file ${mb(peak.fileBytes).trim()} MB at ${peak.t.toFixed(0)} s (live payload then ${mb(peak.messageBytes).trim()} MB, ${peak.messages} messages)`)
  console.log(`idle at the end: file ${mb(idle.fileBytes).trim()} MB, ${idle.messages} messages, ${mb(idle.messageBytes).trim()} MB payload, ${idle.queued} queued`)
  console.log(`after a restart (compacted at load): file ${mb(restarted.fileBytes).trim()} MB, ${restarted.messages} messages; ` +
    `${(restarted.fileBytes / Math.max(1, restarted.messages)).toFixed(0)} bytes per stored message`)
} finally {
  for (const c of clients) c.destroy()
  await broker.stop()
  await rm(dataDir, { recursive: true, force: true })
}

/** The template's packet with the RETAIN flag set (bit 0 of the fixed header). */
function withRetain (t: PublishTemplate): PublishTemplate {
  const build = t.build.bind(t)
  return Object.assign(Object.create(t) as PublishTemplate, {
    build: (id: number, stamp: number): Buffer => {
      const buf = build(id, stamp)
      buf[0] = (buf[0] ?? 0) | 0x01
      return buf
    },
  })
}
