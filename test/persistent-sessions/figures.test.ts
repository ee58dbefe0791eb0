import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openStore, publish, tempDir } from './helpers.js'

/** The nedb store's running figures (what /metrics and $SYS read), against a fake clock. */
describe('nedb store figures', () => {
  test('queued, oldest queue time, stored messages and bytes follow every change and survive a restart', async () => {
    const file = join(tempDir(), 'sessions.db')
    let now = 1_000
    const { store } = await openStore(file, { now: () => now, maxQueued: 3 })
    const two = [{ clientId: 'a' }, { clientId: 'b' }]
    const first = publish('t', Buffer.alloc(10))
    await store.outgoingEnqueueCombi(two, first)
    now = 2_000
    const second = publish('t', 'x'.repeat(20), { qos: 2 })
    await store.outgoingEnqueueCombi(two, second)
    await store.storeRetained({ cmd: 'publish', topic: 'r', payload: Buffer.alloc(5), qos: 0, retain: true })
    expect(store.figures()).toEqual({ queued: 4, oldestQueuedAt: 1_000, messages: 3, messageBytes: 35, retained: 1, disconnected: 0, subscriptions: 0 })

    // a acks the first; b still holds it, so it stays the oldest
    await store.outgoingUpdate({ id: 'a' }, { ...first, messageId: 1 })
    await store.outgoingClearMessageId({ id: 'a' }, { cmd: 'puback', messageId: 1 })
    expect(store.figures()).toMatchObject({ queued: 3, oldestQueuedAt: 1_000, messages: 3 })
    await store.outgoingUpdate({ id: 'b' }, { ...first, messageId: 1 })
    await store.outgoingClearMessageId({ id: 'b' }, { cmd: 'puback', messageId: 1 })
    expect(store.figures()).toMatchObject({ queued: 2, oldestQueuedAt: 2_000, messages: 2, messageBytes: 25 })

    // a's QoS 2 copy: PUBREC received, a PUBREL is owed — handshake state, not a waiting message
    await store.outgoingUpdate({ id: 'a' }, { ...second, messageId: 2 })
    await store.outgoingUpdate({ id: 'a' }, { cmd: 'pubrel', messageId: 2 })
    expect(store.figures()).toMatchObject({ queued: 1, oldestQueuedAt: 2_000, messages: 2 })

    // over maxQueued (3) for b: the oldest lowest-priority copy goes, and with it the body
    now = 3_000
    for (const i of [1, 2, 3]) await store.outgoingEnqueueCombi([{ clientId: 'b' }], publish('t', Buffer.alloc(i)))
    expect(store.figures()).toMatchObject({ queued: 3, oldestQueuedAt: 3_000, messages: 4, messageBytes: 5 + 6 })

    await store.markOffline('a')
    await store.markOffline('b')
    expect(store.figures().disconnected).toBe(2)
    await store.destroy()

    now = 9_000
    const { store: reopened } = await openStore(file, { now: () => now })
    expect(reopened.figures()).toEqual({ queued: 3, oldestQueuedAt: 3_000, messages: 4, messageBytes: 11, retained: 1, disconnected: 2, subscriptions: 0 })
  })

  test('an expired session leaves the figures and is reported', async () => {
    const expired: string[] = []
    let now = 1_000
    const { store } = await openStore(join(tempDir(), 'sessions.db'), { now: () => now, sessionExpiry: 60, onExpire: (id) => expired.push(id) })
    await store.addSubscriptions({ id: 'gone' }, [{ topic: 't', qos: 1 }, { topic: '\u0000midge/session', qos: 0 }])
    await store.outgoingEnqueueCombi([{ clientId: 'gone' }], publish('t', 'payload'))
    await store.markOffline('gone')
    expect(store.figures()).toMatchObject({ queued: 1, messages: 1, disconnected: 1, subscriptions: 1 })
    now += 60_000
    expect(await store.sweep()).toEqual(['gone'])
    expect(expired).toEqual(['gone'])
    expect(store.figures()).toEqual({ queued: 0, oldestQueuedAt: undefined, messages: 0, messageBytes: 0, retained: 0, disconnected: 0, subscriptions: 0 })
  })

  test('subscriptions: every filter of every session, not the session marker, after changes and a restart', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store } = await openStore(file)
    await store.addSubscriptions({ id: 'a' }, [{ topic: 'x/#', qos: 1 }, { topic: 'y', qos: 0 }, { topic: '\u0000midge/session', qos: 0 }])
    await store.addSubscriptions({ id: 'a' }, [{ topic: 'x/#', qos: 2 }]) // replaces, does not add
    await store.addSubscriptions({ id: 'b' }, [{ topic: 'z/+', qos: 1 }, { topic: 'w', qos: 1 }])
    expect(store.figures().subscriptions).toBe(4)
    await store.removeSubscriptions({ id: 'b' }, ['w', 'never-subscribed'])
    expect(store.figures().subscriptions).toBe(3)
    await store.destroy()

    const { store: reopened } = await openStore(file)
    expect(reopened.figures().subscriptions).toBe(3)
    await reopened.cleanSubscriptions({ id: 'a' })
    expect(reopened.figures().subscriptions).toBe(1)
  })
})

describe('$SYS retained messages', () => {
  test('are retained in memory only: never written to the datafile, gone after a restart; other retained messages are kept', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store } = await openStore(file)
    for (let tick = 0; tick < 3; tick++) {
      await store.storeRetained({ cmd: 'publish', topic: '$SYS/broker/uptime', payload: Buffer.from(`${tick} seconds`), qos: 0, retain: true })
    }
    await store.storeRetained({ cmd: 'publish', topic: 'site/status', payload: Buffer.from('up'), qos: 0, retain: true })
    const sys: unknown[] = []
    for await (const p of store.createRetainedStream('$SYS/#')) sys.push((p as { payload: Buffer }).payload.toString())
    expect(sys).toEqual(['2 seconds'])
    expect(store.figures().retained).toBe(2)
    await store.destroy()
    expect(readFileSync(file, 'utf8')).not.toContain('$SYS')

    const { store: reopened } = await openStore(file)
    const topics: string[] = []
    for await (const p of reopened.createRetainedStream('#')) topics.push((p as { topic: string }).topic)
    for await (const p of reopened.createRetainedStream('$SYS/#')) topics.push((p as { topic: string }).topic)
    expect(topics).toEqual(['site/status'])
    await reopened.destroy()
  })
})
