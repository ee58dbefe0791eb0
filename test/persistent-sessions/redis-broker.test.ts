import mqtt from 'mqtt'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { createStore } from '../../plugins/persistent-sessions/index.js'
import type { StoredPacket } from '../../plugins/persistent-sessions/store/types.js'
import type { Broker } from '../../src/broker.js'
import { connectClient } from '../helpers/clients.js'
import { brokerOnRedis, redisInstalled, startRedis, type RedisServer } from './redis-server.js'

/**
 * `sessions.store: redis` under aedes 1.2 and midge's plugins (the priority
 * decorator wraps it): a persistent session's backlog, longer than
 * aedes-persistence-redis hands out by default, survives a broker restart in
 * order and byte for byte, with midge's metadata in `properties`.
 */

describe.skipIf(!redisInstalled())('persistent sessions on redis through the broker', () => {
  let redis: RedisServer | undefined
  beforeAll(async () => { redis = await startRedis() })
  afterAll(() => redis?.stop())

  const start = (db: number): Promise<{ broker: Broker, url: string }> =>
    brokerOnRedis(redis?.url(db) ?? '', { priority: { rules: [{ filter: 'jobs/urgent/#', priority: 9 }] } })

  test('a 1,500-message backlog comes back whole after a restart, in order, with priorities', async () => {
    const first = await start(1)
    const sub = await connectClient(first.url, { clientId: 'redis-sub', clean: false })
    await sub.subscribeAsync('jobs/#', { qos: 1 })
    await sub.endAsync()

    const pub = await connectClient(first.url, { clientId: 'redis-pub' })
    const total = 1_500
    const binary = Buffer.from([0x00, 0xff, 0xc3, 0x28, 0x0a])
    for (let i = 0; i < total; i++) {
      const payload = i === 0 ? binary : `m-${i}`
      await pub.publishAsync(i === 7 ? 'jobs/urgent/7' : 'jobs/normal', payload, { qos: 1 })
    }
    await pub.endAsync()
    await first.broker.close()

    // the store as the next broker finds it: midge's metadata is there
    const built = await createStore({ kind: 'redis', redisUrl: redis?.url(1), dataDir: '', sessionExpiry: 0, maxQueued: 0, compactInterval: 0, onDrop: () => {}, log: pino({ level: 'silent' }) })
    const store = built.persistence as { setup(b: object): Promise<void>, outgoingStream(c: { id: string }): AsyncIterable<StoredPacket>, destroy(): Promise<void> }
    await store.setup({ id: 'reader', subscribe: (_t: string, _f: unknown, done: () => void) => done(), unsubscribe: (_t: string, _f: unknown, done: () => void) => done(), publish: () => {} })
    const stored: StoredPacket[] = []
    for await (const p of store.outgoingStream({ id: 'redis-sub' })) stored.push(p)
    await store.destroy()
    expect(stored).toHaveLength(total)
    expect(stored[7]?.properties?.priority).toBe(9)
    expect(stored[8]?.properties?.priority).toBe(4)

    const second = await start(1)
    const back = mqtt.connect(second.url, { clientId: 'redis-sub', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => back.endAsync(true))
    const received: Buffer[] = []
    const done = new Promise<void>((resolve) => {
      back.on('message', (_t, payload) => {
        received.push(payload)
        if (received.length === total) resolve()
      })
    })
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
    expect(connack.sessionPresent).toBe(true)
    await done
    // the priority-9 message first (it waited in a backlog), then the rest in order
    expect(received[0]?.toString()).toBe('m-7')
    expect(received[1]?.equals(binary)).toBe(true)
    expect(received.slice(2).map(String)).toEqual(Array.from({ length: total }, (_, i) => `m-${i}`).filter((_, i) => i !== 0 && i !== 7))
  })
})
