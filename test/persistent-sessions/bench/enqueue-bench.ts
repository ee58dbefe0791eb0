/**
 * outgoingEnqueueCombi throughput, 10 persistent subscribers per message:
 * aedes-persistence memory vs the nedb store (in memory, and on disk).
 * Not a test: figures depend on the machine. Run:
 *
 *   npm run build && node dist/test/persistent-sessions/bench/enqueue-bench.js
 *
 * Modes: `serial` awaits each call (one publisher: every call waits for its
 * own flush); `concurrent` keeps 256 calls in flight (many publishers, as aedes
 * sees under load: group commit batches them); `lifecycle` adds the rest of a
 * delivery for every subscriber (outgoingUpdate with a packet id, then the
 * ack's outgoingClearMessageId), 256 messages in flight.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryStore, NedbPersistence } from '../../../plugins/persistent-sessions/index.js'
import type { StoredPacket } from '../../../plugins/persistent-sessions/store/types.js'

interface Store {
  setup(broker: object): Promise<void>
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>
  outgoingUpdate(client: { id: string }, packet: StoredPacket): Promise<unknown>
  outgoingClearMessageId(client: { id: string }, packet: StoredPacket): Promise<unknown>
  destroy(): Promise<void>
}

const SUBS = Array.from({ length: 10 }, (_, i) => ({ clientId: `sub-${i}` }))
const payload = Buffer.alloc(100, 0x61)
const broker = { id: 'bench', counter: 0 }
let counter = 0
const packet = (): StoredPacket => ({ cmd: 'publish', topic: 'bench/topic', payload, qos: 1, retain: false, dup: false, brokerId: 'bench', brokerCounter: ++counter, properties: { priority: 4 } })

async function serial (store: Store, n: number): Promise<number> {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await store.outgoingEnqueueCombi(SUBS, packet())
  return n / (Number(process.hrtime.bigint() - t0) / 1e9)
}

async function concurrent (store: Store, n: number, window = 256): Promise<number> {
  const t0 = process.hrtime.bigint()
  for (let done = 0; done < n; done += window) {
    await Promise.all(Array.from({ length: Math.min(window, n - done) }, () => store.outgoingEnqueueCombi(SUBS, packet())))
  }
  return n / (Number(process.hrtime.bigint() - t0) / 1e9)
}

async function lifecycle (store: Store, n: number, window = 256): Promise<number> {
  let mid = 0
  const one = async (): Promise<void> => {
    const p = packet()
    await store.outgoingEnqueueCombi(SUBS, p)
    await Promise.all(SUBS.map(async (s) => {
      const sent = { ...p, messageId: (++mid % 65535) + 1 }
      await store.outgoingUpdate({ id: s.clientId }, sent)
      await store.outgoingClearMessageId({ id: s.clientId }, { cmd: 'puback', messageId: sent.messageId })
    }))
  }
  const t0 = process.hrtime.bigint()
  for (let done = 0; done < n; done += window) await Promise.all(Array.from({ length: Math.min(window, n - done) }, one))
  return n / (Number(process.hrtime.bigint() - t0) / 1e9)
}

const dir = mkdtempSync(join(tmpdir(), 'midge-bench-'))
let files = 0
const builds: Record<string, () => Store> = {
  'aedes-persistence memory': () => createMemoryStore() as Store,
  'nedb inMemoryOnly': () => new NedbPersistence() as unknown as Store,
  'nedb file': () => new NedbPersistence({ filename: join(dir, `bench-${++files}.db`), compactInterval: 0 }) as unknown as Store,
}
const N = Number(process.env.N ?? 20_000)
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(9)
console.log(`outgoingEnqueueCombi calls/s, 10 subscribers, 100-byte payload, N=${N} (node ${process.version})`)
console.log('store'.padEnd(26), 'serial'.padStart(9), 'concurrent'.padStart(11), 'lifecycle'.padStart(10))
for (const [name, build] of Object.entries(builds)) {
  const results: number[] = []
  for (const run of [serial, concurrent, lifecycle]) {
    const store = build()
    await store.setup(broker)
    await run(store, Math.min(N, 5_000)) // warm-up
    results.push(await run(store, N))
    await store.destroy()
  }
  console.log(name.padEnd(26), fmt(results[0] ?? 0), ' ' + fmt(results[1] ?? 0), ' ' + fmt(results[2] ?? 0))
}
if (files > 0) console.log(`(last datafile ${(statSync(join(dir, `bench-${files}.db`)).size / 1e6).toFixed(1)} MB before compaction)`)
rmSync(dir, { recursive: true, force: true })
