import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { onTestFinished } from 'vitest'
import { NedbPersistence, type NedbPersistenceOptions } from '../../plugins/persistent-sessions/index.js'
import type { StoredPacket, StoreDrop } from '../../plugins/persistent-sessions/store/types.js'

/** A temp directory removed when the test ends. */
export function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'midge-sessions-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export { captureLog, type LogCapture } from '../helpers/log-capture.js'

export interface OpenStore {
  store: NedbPersistence
  drops: StoreDrop[]
  broker: { id: string, counter: number }
}

/** Opens (and sets up) a store on `filename`; destroyed when the test ends unless closed first. */
export async function openStore (filename: string | undefined, options: NedbPersistenceOptions = {}): Promise<OpenStore> {
  const drops: StoreDrop[] = []
  const store = new NedbPersistence({ filename, onDrop: (d) => drops.push(d), ...options })
  const broker = { id: 'broker-1', counter: 0 }
  await store.setup(broker)
  onTestFinished(() => store.destroy())
  return { store, drops, broker }
}

export async function readAll<T = StoredPacket> (stream: Readable): Promise<T[]> {
  const out: T[] = []
  for await (const item of stream) out.push(item as T)
  return out
}

/** A publish packet as aedes hands it to the store. */
export function publish (topic: string, payload: Buffer | string, extra: Partial<StoredPacket> = {}): StoredPacket {
  return { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, brokerId: 'broker-1', brokerCounter: ++counter, ...extra }
}
let counter = 0
