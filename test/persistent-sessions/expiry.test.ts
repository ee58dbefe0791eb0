import { join } from 'node:path'
import { describe, expect, test, vi } from 'vitest'
import { captureLog, openStore, publish, readAll, tempDir } from './helpers.js'

const HOUR = 3600

describe('nedb store: sessionExpiry', () => {
  test('an offline session not resumed in time is removed with its queue, for good; each queued message is a dead letter (expired)', async () => {
    const file = join(tempDir(), 'sessions.db')
    let now = 1_000_000
    const { store, drops } = await openStore(file, { sessionExpiry: HOUR, now: () => now })
    const stale = { id: 'stale' }
    const online = { id: 'online' }
    for (const client of [stale, online]) {
      await store.markOnline(client.id)
      await store.addSubscriptions(client, [{ topic: 't', qos: 1 }])
      await store.outgoingEnqueueCombi([{ clientId: client.id }], publish('t', 'queued'))
      await store.incomingStorePacket(client, { cmd: 'publish', topic: 'i', payload: 'x', qos: 2, messageId: 1 })
    }
    await store.markOffline('stale')

    expect(await store.sweep(now + HOUR * 1000 - 1)).toEqual([])
    now += HOUR * 1000
    expect(await store.sweep()).toEqual(['stale'])
    // (nothing was counted: they went silently, by the hundred, in an outside probe)
    expect(drops.map((d) => [d.reason, d.clientId, String(d.packet.payload)])).toEqual([['expired', 'stale', 'queued']])

    expect(await store.subscriptionsByClient(stale)).toEqual([])
    expect(await readAll(store.outgoingStream(stale))).toEqual([])
    await expect(store.incomingGetPacket(stale, { messageId: 1 })).rejects.toThrow('no such packet')
    expect(await store.subscriptionsByTopic('t')).toEqual([expect.objectContaining({ clientId: 'online' })])
    // an online client never expires
    expect(await store.sweep(now + 100 * HOUR * 1000)).toEqual([])

    await store.destroy()
    const reopened = await openStore(file, { sessionExpiry: HOUR, now: () => now })
    expect(await reopened.store.subscriptionsByClient(stale)).toEqual([])
    expect(await readAll(reopened.store.outgoingStream(stale))).toEqual([])
    expect(await readAll(reopened.store.outgoingStream(online))).toHaveLength(1)
  })

  test('after a restart, the last-seen time is kept; sessions without one count from the restart', async () => {
    const file = join(tempDir(), 'sessions.db')
    const first = await openStore(file, { sessionExpiry: HOUR, now: () => 1_000 })
    await first.store.addSubscriptions({ id: 'left' }, [{ topic: 't', qos: 1 }])
    await first.store.markOffline('left')
    // still connected when the broker stopped (or crashed): no last-seen record
    await first.store.markOnline('stayed')
    await first.store.addSubscriptions({ id: 'stayed' }, [{ topic: 't', qos: 1 }])
    await first.store.destroy()

    const restartedAt = 5_000_000
    const { store } = await openStore(file, { sessionExpiry: HOUR, now: () => restartedAt })
    // the sweep at start already removed 'left' (offline since 1,000 ms + 1 h < restart)
    expect(await store.subscriptionsByClient({ id: 'left' })).toEqual([])
    expect(store.lastSeen('stayed')).toBe(restartedAt)
    expect(await store.sweep(restartedAt + HOUR * 1000 - 1)).toEqual([])
    expect(await store.sweep(restartedAt + HOUR * 1000)).toEqual(['stayed'])
  })

  test('a client with nothing stored leaves no record behind', async () => {
    const { store } = await openStore(undefined, { sessionExpiry: HOUR, now: () => 5 })
    await store.markOnline('clean-client')
    await store.markOffline('clean-client')
    expect(store.lastSeen('clean-client')).toBeUndefined()
  })

  test('sessions are swept periodically', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    try {
      const capture = captureLog()
      let now = 0
      const { store } = await openStore(undefined, { sessionExpiry: 60, now: () => now, log: capture.log })
      await store.addSubscriptions({ id: 'gone' }, [{ topic: 't', qos: 1 }])
      await store.markOffline('gone')
      now = 60_000
      vi.advanceTimersByTime(15_000) // sweep interval: a quarter of the expiry
      const line = await capture.waitFor('session expired')
      expect(line).toMatchObject({ clientId: 'gone', lastSeen: 0, subscriptions: 1, queued: 0 })
      expect(await store.subscriptionsByClient({ id: 'gone' })).toEqual([])
    } finally {
      vi.useRealTimers()
    }
  })
})
