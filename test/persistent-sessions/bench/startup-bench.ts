/**
 * Startup time with a big backlog on disk: fills an nedb datafile with
 * MESSAGES queued messages (64-byte payloads, spread over SESSIONS offline
 * persistent sessions, i.e. 10,000 each by default: the default `maxQueued`),
 * then, each time in a fresh process, measures
 *
 *   - `store`: NedbPersistence.setup() (integrity check, nedb load, restore, compaction), and
 *   - `broker`: createBroker() with that data directory until it listens,
 *
 * and reports the medians, the file size and the process RSS after loading.
 *
 *   node dist/test/persistent-sessions/bench/startup-bench.js [--messages 1000000] [--sessions 100] [--runs 3] [--keep DIR]
 *
 * `--keep DIR` fills DIR (which must be empty) and leaves it there, e.g. to profile
 * `--measure store --data-dir DIR` on its own.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NedbPersistence } from '../../../plugins/persistent-sessions/index.js'
import { DATAFILE } from '../../../plugins/persistent-sessions/store/factory.js'
import { createBroker } from '../../../src/index.js'

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

interface Measured { ms: number, rss: number, queued: number }

/** Child mode: load once and print the figures as JSON. */
async function measureOnce (mode: 'store' | 'broker', dataDir: string): Promise<Measured> {
  const t0 = performance.now()
  if (mode === 'store') {
    const store = new NedbPersistence({ filename: join(dataDir, DATAFILE), compactInterval: 0 })
    await store.setup({ id: 'startup-bench' })
    const ms = performance.now() - t0
    const { queued } = store.figures()
    const rss = process.memoryUsage().rss
    await store.destroy()
    return { ms, rss, queued }
  }
  const broker = await createBroker({
    logLevel: 'silent',
    dataDir,
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    sessions: { maxQueued: 1_000_000, sessionExpiry: 0 },
  })
  const ms = performance.now() - t0
  const rss = process.memoryUsage().rss
  await broker.close()
  return { ms, rss, queued: -1 }
}

async function fill (dataDir: string, messages: number, sessions: number): Promise<number> {
  const store = new NedbPersistence({ filename: join(dataDir, DATAFILE), compactInterval: 0 })
  await store.setup({ id: 'startup-bench' })
  for (let s = 0; s < sessions; s++) await store.addSubscriptions({ id: `offline-${s}` }, [{ topic: 'startup/#', qos: 1 }])
  const payload = Buffer.alloc(64, 0x61)
  const t0 = performance.now()
  const window = 512
  for (let done = 0; done < messages; done += window) {
    const n = Math.min(window, messages - done)
    await Promise.all(Array.from({ length: n }, (_, k) => {
      const i = done + k
      return store.outgoingEnqueueCombi([{ clientId: `offline-${i % sessions}` }], {
        cmd: 'publish', topic: `startup/${i % 97}`, payload, qos: 1, retain: false, dup: false,
        brokerId: 'startup-bench', brokerCounter: i + 1, properties: { priority: 4, firstPublishedAt: Date.now() },
      })
    }))
  }
  for (let s = 0; s < sessions; s++) await store.markOffline(`offline-${s}`)
  const ms = performance.now() - t0
  await store.destroy()
  return ms
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

const child = arg('measure')
if (child === 'store' || child === 'broker') {
  process.stdout.write(JSON.stringify(await measureOnce(child, arg('data-dir') ?? '')) + '\n')
  process.exit(0)
}

const messages = Number(arg('messages') ?? 1_000_000)
const sessions = Number(arg('sessions') ?? 100)
const runs = Number(arg('runs') ?? 3)
const dataDir = arg('keep') ?? await mkdtemp(join(tmpdir(), 'midge-startup-bench-'))
try {
  const fillMs = await fill(dataDir, messages, sessions)
  const bytes = (await stat(join(dataDir, DATAFILE))).size
  console.log(`filled ${messages.toLocaleString('en-US')} queued messages over ${sessions} sessions in ${(fillMs / 1000).toFixed(1)} s ` +
    `(${Math.round(messages / (fillMs / 1000)).toLocaleString('en-US')}/s); datafile ${(bytes / 1e6).toFixed(0)} MB`)
  const self = fileURLToPath(import.meta.url)
  for (const mode of ['store', 'broker'] as const) {
    const results: Measured[] = []
    for (let r = 0; r < runs; r++) {
      // a fresh process each time: no warm heap, no cached modules
      const out = spawnSync(process.execPath, ['--max-old-space-size=16384', self, '--measure', mode, '--data-dir', dataDir], { encoding: 'utf8', maxBuffer: 1 << 20 })
      if (out.status !== 0) throw new Error(`${mode} run failed: ${out.stderr}`)
      results.push(JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as Measured)
    }
    const queued = results[0]?.queued ?? -1
    console.log(`${mode.padEnd(6)} startup: median ${(median(results.map((r) => r.ms)) / 1000).toFixed(2)} s [${results.map((r) => (r.ms / 1000).toFixed(2)).join(' ')}], ` +
      `RSS ${(median(results.map((r) => r.rss)) / 1e6).toFixed(0)} MB${queued >= 0 ? `, ${queued.toLocaleString('en-US')} queued` : ''}`)
  }
} finally {
  if (arg('keep') === undefined) await rm(dataDir, { recursive: true, force: true })
}
