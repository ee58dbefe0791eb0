import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { createStore, StoreUnavailableError } from '../../plugins/persistent-sessions/index.js'
import type { Broker } from '../../src/broker.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { connectClient, nextMessage, RawClient } from '../helpers/clients.js'
import { freePort } from '../helpers/free-port.js'
import { captureLog, type LogCapture } from '../helpers/log-capture.js'
import { wrapStoreMethod } from '../helpers/store-method.js'
import { rawConnected } from '../conformance/support.js'
import { brokerOnRedis, redisInstalled, startRedis, type RedisServer } from './redis-server.js'

/**
 * `sessions.store: redis` when redis is slow or gone: a QoS 1 PUBACK waits
 * until redis has the message (redis outlives a crash of the broker, so the
 * durability rule holds for it as for the nedb file), and an outage is
 * reported in the broker's log, once, with its end.
 */

describe.skipIf(!redisInstalled())('sessions.store redis: slow or missing redis', () => {
  let redis: RedisServer | undefined
  beforeAll(async () => { redis = await startRedis() })
  afterAll(() => redis?.stop())

  /** Resolves when aedes hands a QoS > 0 message for `topic` to the store (before redis answers). */
  function storeReached (topic: string): { plugin: ReturnType<typeof definePlugin>, reached: Promise<void> } {
    let reached = (): void => {}
    const promise = new Promise<void>((resolve) => { reached = resolve })
    const plugin = definePlugin({
      name: 'store-spy',
      register (broker) {
        broker.decoratePersistence(wrapStoreMethod('outgoingEnqueueCombi', (original) => (subs: unknown, packet: { topic: string }) => {
          if (packet.topic === topic) reached()
          return original(subs, packet)
        }))
      },
    })
    return { plugin, reached: promise }
  }

  const start = (db: number, options: { logger?: LogCapture['log'], plugins?: Array<ReturnType<typeof definePlugin>> } = {}): Promise<{ broker: Broker, url: string }> =>
    brokerOnRedis(redis?.url(db) ?? '', {}, { ...(options.logger !== undefined ? { logger: options.logger } : {}), plugins: options.plugins ?? [] })

  test('PUBACK for a QoS 1 publish waits until redis has stored it for the offline persistent subscriber', async () => {
    const spy = storeReached('jobs/a')
    const { url } = await start(2, { plugins: [spy.plugin] })
    const sub = await connectClient(url, { clientId: 'outage-sub', clean: false })
    await sub.subscribeAsync('jobs/#', { qos: 1 })
    await sub.endAsync()

    // connected first: a CONNECT writes to the store too
    const raw = await rawConnected(url)
    await redis?.command('CLIENT', 'PAUSE', '30000', 'WRITE')
    onTestFinished(async () => { await redis?.command('CLIENT', 'UNPAUSE') })
    raw.send({ cmd: 'publish', topic: 'jobs/a', payload: 'kept', qos: 1, messageId: 7 })
    await spy.reached
    // A PUBACK written before the store call (aedes's own order) would arrive before this PINGRESP.
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
    expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])

    await redis?.command('CLIENT', 'UNPAUSE')
    expect(await raw.next('puback')).toMatchObject({ messageId: 7 })
    const back = await connectClient(url, { clientId: 'outage-sub', clean: false })
    const message = await nextMessage(back)
    expect(message.payload.toString()).toBe('kept')
    await back.endAsync()
  })

  test('an outage is logged once, by host (never the URL, which may carry a password), and so is its end', async () => {
    const capture = captureLog()
    const { url } = await start(3, { logger: capture.log })
    await redis?.kill()
    const down = await capture.waitFor('session store unreachable')
    expect(down.level).toBe(50)
    expect(down.redis).toBe(`127.0.0.1:${redis?.port ?? 0}`)
    await redis?.revive()
    await capture.waitFor('session store reachable again')
    expect(capture.lines.filter((l) => String(l.msg).includes('session store unreachable'))).toHaveLength(1)

    // and the store works again
    const pub = await connectClient(url, { clientId: 'outage-pub' })
    await pub.publishAsync('after/outage', 'x', { qos: 1 })
    await pub.endAsync()
  })

  // aedes waited on the store (ioredis retries for ~10 s), then closed the connection without a
  // CONNACK, logging nothing: a fleet reconnecting during an outage saw hung connections.
  test('while redis is away a CONNECT gets CONNACK 0x03 at once, logged once; after, clients connect again', async () => {
    const capture = captureLog()
    const { url } = await start(5, { logger: capture.log })
    await redis?.kill()
    await capture.waitFor('session store unreachable')
    for (const clean of [true, false]) {
      const raw = await RawClient.open(url)
      expect(await raw.connect({ clean, clientId: `refused-${String(clean)}` })).toMatchObject({ returnCode: 3 })
      await raw.closed()
    }
    const refused = capture.lines.filter((l) => String(l.msg).includes('CONNACK 0x03'))
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ level: 40, reason: expect.stringContaining('unreachable') })
    await redis?.revive()
    await capture.waitFor('session store reachable again')
    const back = await connectClient(url, { clientId: 'after-refusal', clean: false })
    await back.endAsync()
  })
})

describe.skipIf(!redisInstalled())('sessions.store redis: readiness while redis is away', () => {
  test('/ready answers 503 degraded and midge_store_up reads 0 while redis is unreachable; both recover', async () => {
    const redis = await startRedis()
    onTestFinished(() => redis.stop())
    const capture = captureLog()
    const { broker } = await brokerOnRedis(redis.url(4), { listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }] }, { logger: capture.log })
    const http = broker.addresses().find((a) => a.type === 'http')?.url ?? ''
    const probe = async (): Promise<{ status: number, body: unknown, up: string | undefined }> => {
      const ready = await fetch(`${http}/ready`)
      const metrics = await (await fetch(`${http}/metrics`)).text()
      return { status: ready.status, body: await ready.json(), up: /^midge_store_up (\d)$/m.exec(metrics)?.[1] }
    }
    expect(await probe()).toEqual({ status: 200, body: { status: 'ready' }, up: '1' })
    await redis.kill()
    await capture.waitFor('session store unreachable')
    const down = await probe()
    expect(down).toMatchObject({ status: 503, body: { status: 'degraded' }, up: '0' })
    expect(JSON.stringify(down.body)).toMatch(/persistent-sessions\/store.*unreachable/)
    await redis.revive()
    await capture.waitFor('session store reachable again')
    expect(await probe()).toEqual({ status: 200, body: { status: 'ready' }, up: '1' })
  })
})

describe.skipIf(!redisInstalled())('sessions.store redis: closing while redis does not answer', () => {
  test('close() still ends: the due will and the store calls redis never answered are logged and dropped, none was acknowledged', async () => {
    const redis = await startRedis()
    onTestFinished(() => redis.stop())
    const capture = captureLog()
    let storeReached = (): void => {}
    const reached = new Promise<void>((resolve) => { storeReached = resolve })
    const spy = definePlugin({
      name: 'store-spy',
      register (broker) {
        broker.decoratePersistence(wrapStoreMethod('outgoingEnqueueCombi', (original) => (subs: unknown, packet: { topic: string }) => {
          if (packet.topic === 'jobs/late') storeReached()
          return original(subs, packet)
        }))
      },
    })
    const { broker, url } = await brokerOnRedis(redis.url(5), { pluginTimeoutMs: 300 }, { logger: capture.log, plugins: [spy] })
    const sub = await connectClient(url, { clientId: 'close-sub', clean: false })
    await sub.subscribeAsync('jobs/#', { qos: 1 })
    await sub.endAsync()
    const raw = await rawConnected(url, { will: { topic: 'jobs/will', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await redis.command('CLIENT', 'PAUSE', '60000', 'WRITE')
    onTestFinished(async () => { await redis.command('CLIENT', 'UNPAUSE') })
    raw.send({ cmd: 'publish', topic: 'jobs/late', payload: 'x', qos: 1, messageId: 9 })
    await reached

    // Before: close() waited for redis for as long as ioredis retried (here: the pause).
    await broker.close()
    expect(capture.lines.find((l) => String(l.msg).startsWith('the wills due at shutdown were not all published in time'))).toMatchObject({ level: 50, timeoutMs: 300 })
    expect(capture.lines.find((l) => String(l.msg).startsWith('closing the session store with calls redis never answered'))).toMatchObject({ level: 50, pending: expect.any(Number) })
    expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
  })
})

describe('sessions.store redis: no redis at start', () => {
  test('the store gives up after its start timeout with one line naming the host and the cause', async () => {
    const port = await freePort() // nothing listens there
    const capture = captureLog()
    const built = createStore({ kind: 'redis', redisUrl: `redis://user:secret@127.0.0.1:${port}/0`, redisStartTimeoutMs: 300, dataDir: '', sessionExpiry: 0, maxQueued: 0, compactInterval: 0, onDrop: () => {}, log: capture.log })
    const err = await built.then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(StoreUnavailableError)
    const message = (err as Error).message
    expect(message).toBe(`sessions.store "redis": cannot reach redis at 127.0.0.1:${port} within 0.3 s (connect ECONNREFUSED 127.0.0.1:${port})`)
    expect(JSON.stringify(capture.lines)).not.toContain('secret')
  })
})
