import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { withDistinctPubrels } from '../../../src/core/memory-store-pubrels.js'
import { NedbPersistence } from './nedb-persistence.js'
import { createRedisStore } from './redis-store.js'
import type { DropListener } from './types.js'

/** The backends `sessions.store` selects. */
export type StoreKind = 'nedb' | 'memory' | 'redis'

/** File name of the nedb datafile inside `dataDir`. */
export const DATAFILE = 'sessions.db'

/** What the plugin tells a store about clients; only the nedb store listens. */
export interface SessionTracker {
  markOnline(clientId: string): Promise<void>
  markOffline(clientId: string): Promise<void>
}

export interface StoreSpec {
  kind: StoreKind
  /** Directory of the nedb datafile. */
  dataDir: string
  /** Seconds; 0 = forever. */
  sessionExpiry: number
  maxQueued: number
  /** Seconds between compactions. */
  compactInterval: number
  /** `redis://…` for the redis backend. */
  redisUrl?: string
  /** How long the redis backend waits for redis at start (default REDIS_START_TIMEOUT_MS; tests shorten it). */
  redisStartTimeoutMs?: number
  /** How long closing the redis backend waits for the store calls under way (default REDIS_CLOSE_TIMEOUT_MS). */
  closeTimeoutMs?: number
  onDrop: DropListener
  /** Told about every session expiry removes (nedb only: the others do not expire sessions). */
  onExpire?: (clientId: string) => void
  log: Logger
}

/** A built store: what aedes gets, and who to tell about clients coming and going. */
export interface BuiltStore {
  persistence: object
  tracker: SessionTracker | undefined
  /** The nedb store, which keeps figures for `$SYS` and `/metrics`. */
  nedb?: NedbPersistence
  /** Why the store cannot take writes now (a full disk, Redis away), undefined while it can. */
  health: () => string | undefined
}

// aedes-persistence is CommonJS and its typings declare an ESM default export
// that does not exist at runtime under NodeNext; require it as it is.
const aedesMemoryPersistence = createRequire(import.meta.url)('aedes-persistence') as () => object

/** aedes-persistence's in-memory store (its default export): nothing survives a restart, no bounds. */
export function createMemoryStore (): object {
  return withDistinctPubrels(aedesMemoryPersistence())
}

export async function createStore (spec: StoreSpec): Promise<BuiltStore> {
  switch (spec.kind) {
    case 'nedb': {
      const store = new NedbPersistence({
        // resolved now: a relative dataDir must not follow a later process.chdir()
        filename: resolve(spec.dataDir, DATAFILE),
        sessionExpiry: spec.sessionExpiry,
        maxQueued: spec.maxQueued,
        compactInterval: spec.compactInterval,
        onDrop: spec.onDrop,
        ...(spec.onExpire !== undefined ? { onExpire: spec.onExpire } : {}),
        log: spec.log,
      })
      return { persistence: store, tracker: store, nedb: store, health: () => store.writeFailure }
    }
    case 'memory':
      spec.log.warn('sessions.store is "memory": sessions and retained messages are lost on restart; maxQueued and sessionExpiry are not enforced')
      return { persistence: createMemoryStore(), tracker: undefined, health: () => undefined }
    case 'redis': {
      const { store, health } = await createRedisStore(spec)
      return { persistence: store, tracker: undefined, health }
    }
  }
}
