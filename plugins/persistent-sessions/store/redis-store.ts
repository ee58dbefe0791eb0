import type { Logger } from 'pino'
import { beforeDeadline, LATE } from '../../../src/core/deadline.js'
import { StoreUnavailableError } from './errors.js'
import type { StoreSpec } from './factory.js'

/**
 * `sessions.store: redis`: aedes-persistence-redis (loaded only when chosen:
 * it brings ioredis), with two changes made from outside:
 * - midge opens the ioredis connection and hands it over (`conn`), so an
 *   outage is reported in midge's log, once, and its end too. Left to
 *   itself, ioredis printed "[ioredis] Unhandled error event" to stderr on
 *   every reconnect attempt. While redis is away, store calls wait in
 *   ioredis's offline queue, so QoS 1/2 publishes get no PUBACK / PUBREC
 *   until their message is stored; past ioredis's retry limit a call fails
 *   and the publishing connection is closed, with nothing acknowledged.
 * - `destroy()` first waits for the store calls still under way. Upstream
 *   `destroy()` calls ioredis `disconnect()`, which drops commands not yet
 *   answered, so a broker closing right after a burst of publishes lost the
 *   last few queued messages (the redis broker test caught 7–32 of 1,500
 *   missing). It waits `closeTimeoutMs` at most: with redis gone those calls
 *   wait as long as ioredis retries, and `close()` with them. Past it the
 *   calls are dropped, logged with their number; none of them was
 *   acknowledged to a publisher (a PUBACK waits for its store call).
 */

const PACKAGE = 'aedes-persistence-redis'

type Method = (...args: unknown[]) => unknown

interface RedisConnection {
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
  once(event: 'ready', listener: () => void): unknown
  off(event: 'ready' | 'error', listener: (...args: never[]) => void): unknown
  readonly status: string
  disconnect(): void
}

/** How long a starting broker waits for redis before it gives up (ioredis goes on retrying meanwhile). */
export const REDIS_START_TIMEOUT_MS = 10_000
/** How long a closing broker waits for the store calls redis has not answered yet. */
export const REDIS_CLOSE_TIMEOUT_MS = 10_000

export async function createRedisStore (spec: StoreSpec): Promise<{ store: object, health: () => string | undefined }> {
  if (spec.redisUrl === undefined) {
    throw new StoreUnavailableError('sessions.store "redis" needs cluster.redis (redis://host:port/db)')
  }
  let factory: (options: object) => object
  let Redis: new (options: object) => RedisConnection
  try {
    factory = ((await import(PACKAGE)) as { default: (options: object) => object }).default
    Redis = ((await import('ioredis')) as unknown as { Redis: typeof Redis }).Redis
  } catch (err) {
    throw new StoreUnavailableError(`sessions.store "redis" needs the ${PACKAGE} package: npm install ${PACKAGE}`, { cause: err })
  }
  const url = new URL(spec.redisUrl)
  spec.log.warn('sessions.store is "redis": maxQueued and sessionExpiry are not enforced by this backend')
  const conn = new Redis({
    host: url.hostname,
    port: url.port === '' ? 6379 : Number(url.port),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
  })
  reportOutages(conn, url.host, spec.log)
  await reachable(conn, url.host, spec.redisStartTimeoutMs ?? REDIS_START_TIMEOUT_MS)
  const closeTimeoutMs = spec.closeTimeoutMs ?? REDIS_CLOSE_TIMEOUT_MS
  const unanswered = (pending: number): void => {
    spec.log.error({ redis: url.host, pending, timeoutMs: closeTimeoutMs }, 'closing the session store with calls redis never answered: their messages are not stored (none was acknowledged)')
  }
  const store = settleBeforeDestroy(factory({
    conn,
    // Its outgoingStream returns only the first 1,001 queued messages by
    // default; the rest of a backlog would wait for the next reconnect.
    maxSessionDelivery: Number.MAX_SAFE_INTEGER,
  }), closeTimeoutMs, unanswered)
  return { store, health: () => conn.status === 'ready' ? undefined : `redis at ${url.host} unreachable (${conn.status})` }
}

/** Resolves once the connection is up; after `timeoutMs` without it, closes it and throws a one-line error. */
async function reachable (conn: RedisConnection, host: string, timeoutMs: number): Promise<void> {
  if (conn.status === 'ready') return
  let lastError: Error | undefined
  const onError = (err: Error): void => { lastError = err }
  let onReady = (): void => {}
  conn.on('error', onError)
  try {
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { resolve(false) }, timeoutMs)
      onReady = () => { clearTimeout(timer); resolve(true) }
      conn.once('ready', onReady)
    })
    if (up) return
  } finally {
    conn.off('error', onError)
    conn.off('ready', onReady)
  }
  conn.disconnect()
  const cause = lastError === undefined ? 'no answer' : lastError.message
  throw new StoreUnavailableError(`sessions.store "redis": cannot reach redis at ${host} within ${timeoutMs / 1000} s (${cause})`, { cause: lastError })
}

/** One error line when redis goes away (the host only: the URL may hold a password), one when it is back. */
function reportOutages (conn: RedisConnection, host: string, log: Logger): void {
  let down = false
  conn.on('error', (err) => {
    if (down) return
    down = true
    log.error({ err, redis: host }, 'session store unreachable: redis; QoS 1/2 publishes are not acknowledged until it is back')
  })
  conn.on('ready', () => {
    if (!down) return
    down = false
    log.warn({ redis: host }, 'session store reachable again: redis')
  })
}

/**
 * `store` whose promise-returning calls are tracked, and whose `destroy()`
 * runs once none is pending, or after `timeoutMs` (`onTimeout` is told how
 * many still were). A Proxy: every other property (streams, the `broker`
 * accessor, events) reaches the store as it is.
 */
function settleBeforeDestroy (store: object, timeoutMs: number, onTimeout: (pending: number) => void): object {
  const pending = new Set<Promise<unknown>>()
  const wrapped = new Map<PropertyKey, Method>()
  const settle = async (): Promise<void> => {
    const allSettled = async (): Promise<void> => {
      while (pending.size > 0) await Promise.allSettled([...pending])
    }
    if (await beforeDeadline(allSettled(), timeoutMs) === LATE) onTimeout(pending.size)
  }
  return new Proxy(store, {
    get (target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      let fn = wrapped.get(prop)
      if (fn === undefined) {
        const method = (value as Method).bind(target)
        const tracked = (...args: unknown[]): unknown => {
          const result = method(...args)
          if (result instanceof Promise) {
            pending.add(result)
            const forget = (): void => { pending.delete(result) }
            result.then(forget, forget)
          }
          return result
        }
        // aedes refuses a store whose setup() is not an AsyncFunction; keep each method's kind.
        const isAsync = (value as Method).constructor.name === 'AsyncFunction'
        fn = prop === 'destroy'
          ? async (...args: unknown[]) => { await settle(); return await method(...args) }
          : isAsync ? async (...args: unknown[]) => await tracked(...args) : tracked
        wrapped.set(prop, fn)
      }
      return fn
    },
  })
}
