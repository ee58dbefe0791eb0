import { createRequire } from 'node:module'
import { pino } from 'pino'
import { afterAll, beforeAll, describe } from 'vitest'
import { createStore } from '../../plugins/persistent-sessions/index.js'
import { nodeTestShim, type NodeTestFn } from './node-test-shim.js'
import { redisInstalled, startRedis, type RedisServer } from './redis-server.js'

/**
 * aedes-persistence's contract suite, unchanged, on `sessions.store: redis`
 * (aedes-persistence-redis as midge builds it) against a private
 * redis-server, emptied before each test as the suite expects.
 */

type AbstractPersistence = (options: { test: NodeTestFn, persistence: () => Promise<object>, testAsync: boolean }) => void
const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js') as AbstractPersistence

describe.skipIf(!redisInstalled())('aedes-persistence suite: redis store', () => {
  let redis: RedisServer | undefined
  beforeAll(async () => { redis = await startRedis() })
  afterAll(() => redis?.stop())
  const log = pino({ level: 'silent' })

  abstractPersistence({
    test: nodeTestShim(),
    testAsync: true,
    persistence: async () => {
      if (redis === undefined) throw new Error('redis-server did not start')
      await redis.flush()
      const built = await createStore({ kind: 'redis', redisUrl: redis.url(), dataDir: '', sessionExpiry: 0, maxQueued: 0, compactInterval: 0, onDrop: () => {}, log })
      return built.persistence
    },
  })
})
