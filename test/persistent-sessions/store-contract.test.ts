import { join } from 'node:path'
import mqemitter from 'mqemitter'
import { pino } from 'pino'
import { afterAll, beforeAll, describe } from 'vitest'
import { createMemoryStore, createStore, NedbPersistence } from '../../plugins/persistent-sessions/index.js'
import { tempDir } from './helpers.js'
import { redisInstalled, startRedis, type RedisServer } from './redis-server.js'
import { describeStoreContract, OWN_PACKET_ID, type ContractStore } from './store-contract.js'

/** What `setup()` gets: an id, and the emitter calls aedes-persistence-redis broadcasts subscriptions with. */
function brokerRef (): object {
  const mq = mqemitter()
  return { id: 'contract-broker', counter: 0, mq, publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) }
}

async function ready (store: object): Promise<ContractStore> {
  await (store as { setup(broker: object): Promise<void> }).setup(brokerRef())
  return store as ContractStore
}

describe('store contract: memory (aedes-persistence)', () => {
  describeStoreContract({ open: () => ready(createMemoryStore()) })
})

describe('store contract: nedb, inMemoryOnly', () => {
  describeStoreContract({ open: () => ready(new NedbPersistence()) })
})

describe('store contract: nedb, file-backed', () => {
  const files = new WeakMap<ContractStore, string>()
  const openAt = async (file: string): Promise<ContractStore> => {
    const store = await ready(new NedbPersistence({ filename: file }))
    files.set(store, file)
    return store
  }
  describeStoreContract({
    open: () => openAt(join(tempDir(), 'sessions.db')),
    reopen: async (store) => {
      await store.destroy()
      return openAt(files.get(store) ?? '')
    },
  })
})

describe.skipIf(!redisInstalled())('store contract: redis (aedes-persistence-redis)', () => {
  let redis: RedisServer | undefined
  beforeAll(async () => { redis = await startRedis() })
  afterAll(() => redis?.stop())
  const build = async (): Promise<ContractStore> => {
    if (redis === undefined) throw new Error('redis-server did not start')
    const built = await createStore({ kind: 'redis', redisUrl: redis.url(), dataDir: '', sessionExpiry: 0, maxQueued: 0, compactInterval: 0, onDrop: () => {}, log: pino({ level: 'silent' }) })
    return ready(built.persistence)
  }
  describeStoreContract({
    open: async () => {
      await redis?.flush()
      return build()
    },
    reopen: async (store) => {
      await store.destroy()
      return build()
    },
    knownGaps: {
      // asyncPersistence.js outgoingUpdate (QoS 1) rewrites the one stored copy of the message that every
      // subscriber's queue points to, so the others get the first subscriber's packet id on reconnect.
      [OWN_PACKET_ID]: 'aedes-persistence-redis 12 shares one packet copy between subscribers',
    },
  })
})
