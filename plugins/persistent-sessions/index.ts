import type { BrokerConfig } from '../../src/config/schema.js'
import type { Message, QoS } from '../../src/core/message.js'
import { errorReason, LineThrottle } from '../../src/core/line-throttle.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { defineSysMetric, SubscriptionTally, SYS_METRICS } from '../../src/sys/index.js'
import { defineStoreMetrics } from './metrics.js'
import { createStore, type SessionTracker } from './store/factory.js'
import type { NedbPersistence } from './store/nedb-persistence.js'
import type { StoreDrop } from './store/types.js'

export { NedbPersistence, type NedbPersistenceOptions } from './store/nedb-persistence.js'
export { createMemoryStore, createStore, DATAFILE, type StoreKind } from './store/factory.js'
export { StoreCorruptError, StoreClosedError, StoreUnavailableError } from './store/errors.js'

/** The `sessions` config section. */
export type PersistentSessionsOptions = BrokerConfig['sessions']

/**
 * Persistent sessions: installs the session store chosen by `sessions.store`
 * (nedb files in `dataDir` by default) and keeps it told which clients are
 * online, for session expiry. Messages the store drops (`maxQueued`) are
 * reported as `drop` events, where the dead-letter plugin picks them up.
 *
 * Monitoring: counts expired sessions (`clientsExpired`); on the nedb store
 * also queue depth and lag, store size on disk, stored and retained messages,
 * disconnected sessions and subscriptions, as the store knows them (see
 * metrics.ts): right after a restart and a session expiry too.
 *
 * Options default to the broker's `sessions` config section.
 */
export default definePlugin<PersistentSessionsOptions | undefined>({
  name: 'persistent-sessions',
  register (broker, options) {
    const opts = options ?? broker.config.sessions
    const log = broker.log
    let tracker: SessionTracker | undefined
    let nedb: NedbPersistence | undefined
    let health: () => string | undefined = () => undefined
    const expired = defineSysMetric(broker.metrics, SYS_METRICS.clientsExpired)
    defineSysMetric(broker.metrics, { ...SYS_METRICS.storeUp, read: () => health() === undefined ? 1 : 0 })
    // QoS 1/2 publishes to persistent sessions are not acknowledged while the store cannot write
    broker.addReadinessCheck('store', () => health())
    if (opts.store === 'nedb') {
      const clean = new SubscriptionTally({ persistent: false })
      clean.attach(broker.events)
      defineStoreMetrics(broker.metrics, () => nedb, () => clean.count)
    }

    const onDrop = (drop: StoreDrop): void => {
      const message = toMessage(drop)
      log.debug({ reason: drop.reason, clientId: drop.clientId, topic: message.topic, priority: message.properties?.priority }, 'queued message dropped')
      broker.events.emit('drop', { reason: drop.reason, clientId: drop.clientId, message, at: Date.now() })
    }

    broker.usePersistence(async () => {
      const built = await createStore({
        kind: opts.store,
        dataDir: broker.config.dataDir,
        sessionExpiry: opts.sessionExpiry,
        maxQueued: opts.maxQueued,
        compactInterval: opts.compactInterval,
        redisUrl: broker.config.cluster.redis,
        closeTimeoutMs: broker.config.pluginTimeoutMs,
        onDrop,
        onExpire: () => { expired.inc() },
        log,
      })
      tracker = built.tracker
      nedb = built.nedb
      health = built.health
      return built.persistence
    // Said, not guessed: nedb (a file) and redis (a server) outlive a crash of this process. Only
    // redis serves nothing while it is away; nedb reads on a full disk.
    }, { durable: opts.store !== 'memory', ...(opts.store === 'redis' ? { unavailable: () => health() } : {}) })

    // While the store is down every reconnect of the fleet fails here: one line a minute, with the count.
    const failures = new LineThrottle(60_000)
    const failed = (clientId: string) => (err: unknown): void => {
      broker.events.emit('error', err instanceof Error ? err : new Error(String(err)))
      const reason = errorReason(err)
      const sinceLastLine = failures.pass(reason)
      if (sinceLastLine !== undefined) log.error({ reason, clientId, sinceLastLine }, 'session store could not record a client connecting or leaving')
    }
    broker.events.on('clientReady', (client) => {
      tracker?.markOnline(client.id).catch(failed(client.id))
    })
    // Also fires while the broker closes: every session then counts from shutdown time.
    broker.events.on('clientDisconnect', (client) => {
      tracker?.markOffline(client.id).catch(failed(client.id))
    })
    // The store itself is closed by the core after the plugins (it destroys the persistence).
    broker.onClose(() => {
      const stats = (tracker as { stats?: unknown } | undefined)?.stats
      if (stats !== undefined) log.debug({ writes: stats }, 'session store write batches')
    })
  },
})

/** The dropped packet as midge's `Message` (payload kept as is; logs never see it). */
function toMessage (drop: StoreDrop): Message {
  const p = drop.packet
  const payload = typeof p.payload === 'string' || Buffer.isBuffer(p.payload)
    ? p.payload
    : Buffer.from(p.payload ?? new Uint8Array())
  return {
    topic: String(p.topic),
    payload,
    qos: (p.qos ?? 0) as QoS,
    retain: p.retain ?? false,
    ...(p.properties !== undefined ? { properties: p.properties } : {}),
  }
}
