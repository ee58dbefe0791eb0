import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker } from '../../src/broker.js'
import { PublishTemplate } from '../bench/lib/packets.js'
import { RawClient } from '../bench/lib/raw-client.js'
import { openStore, publish, readAll, tempDir } from './helpers.js'

/**
 * A persistent subscriber that leaves and comes back while QoS 1 messages
 * stream in keeps getting them on the new connection, each once. When QoS 1
 * outgoingUpdate resolved before the disk write, a backlog copy could go out
 * and be acknowledged before the live copy of the same message reached the
 * priority window, which delivered it again; the store answered that second
 * update with 'no such packet' and aedes closed the connection: the session
 * stopped receiving and its queue filled up. (The store no longer throws
 * there; the duplicate count pins the rest.)
 */
describe('persistent session taken over under load', () => {
  test('after each of four reconnects mid-stream the session keeps receiving, up to a final sentinel', async () => {
    const broker = await createBroker({
      logLevel: 'silent',
      dataDir: tempDir(),
      listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
      sys: { interval: 0 },
      sessions: { store: 'nedb' },
    })
    onTestFinished(() => broker.close())
    const port = broker.addresses()[0]?.port ?? 0
    const clients: RawClient[] = []
    onTestFinished(() => { for (const c of clients) c.destroy() })

    let received = 0
    let sentinel = false
    const waiters: Array<{ until: () => boolean, resolve: () => void }> = []
    const seen = new Set<number>()
    let duplicates = 0
    const onMessage = (p: { topic: string, payload: Buffer | string }): void => {
      if (p.topic === 'tk/sentinel') {
        sentinel = true
      } else {
        received++
        // the publisher stamps each payload with its sequence number
        const n = Buffer.isBuffer(p.payload) ? p.payload.readDoubleBE(0) : Number.NaN
        if (seen.has(n)) duplicates++
        seen.add(n)
      }
      for (const w of [...waiters]) if (w.until()) { waiters.splice(waiters.indexOf(w), 1); w.resolve() }
    }
    const until = (check: () => boolean, what: string): Promise<void> => new Promise((resolve, reject) => {
      if (check()) return resolve()
      const timer = setTimeout(() => reject(new Error(`${what}: stuck at ${received} messages`)), 10_000)
      waiters.push({ until: check, resolve: () => { clearTimeout(timer); resolve() } })
    })

    let sub = await RawClient.connect({ port, clientId: 'tk-0', clean: false, onMessage })
    clients.push(sub)
    await sub.subscribe('tk/#', 1)
    for (let i = 1; i < 5; i++) {
      const other = await RawClient.connect({ port, clientId: `tk-${i}`, clean: false })
      clients.push(other)
      await other.subscribe('tk/#', 1)
    }
    const pub = await RawClient.connect({ port, clientId: 'tk-pub' })
    clients.push(pub)
    const template = new PublishTemplate('tk/data', 1, 64)
    let stop = false
    const streaming = (async () => {
      const inflight = new Set<Promise<void>>()
      for (let n = 0; !stop; n++) {
        const p: Promise<void> = pub.publish(template, n).then(() => { inflight.delete(p) })
        inflight.add(p)
        if (inflight.size >= 16) await Promise.race(inflight)
      }
      await Promise.all(inflight)
    })()

    for (let round = 1; round <= 4; round++) {
      const target = received + 300
      await until(() => received >= target, `before takeover ${round}`)
      await sub.disconnect()
      sub = await RawClient.connect({ port, clientId: 'tk-0', clean: false, onMessage })
      clients.push(sub)
      expect(sub.sessionPresent).toBe(true)
    }
    const target = received + 300
    await until(() => received >= target, 'after the last takeover')
    stop = true
    await streaming
    await pub.publish(new PublishTemplate('tk/sentinel', 1, 8), 0)
    await until(() => sentinel, 'sentinel')
    // QoS 1 lets a message in flight at a disconnect come again (its PUBACK may race the
    // DISCONNECT); the regression this pins sent 1.5-2.5% of the stream twice (0 here in 9 runs)
    expect(duplicates).toBeLessThanOrEqual(Math.floor(received / 100))
  }, 30_000)
})

describe('nedb store: a delivery of a message no longer queued', () => {
  test('its update resolves and stores nothing (dropped by maxQueued while on its way)', async () => {
    const { store, drops } = await openStore(undefined, { maxQueued: 1 })
    const first = publish('t', 'first')
    await store.outgoingEnqueueCombi([{ clientId: 'c' }], first)
    await store.outgoingEnqueueCombi([{ clientId: 'c' }], publish('t', 'second'))
    expect(drops.map((d) => d.packet.payload)).toEqual(['first'])
    // aedes was already delivering 'first': its update must not fail the connection
    await expect(store.outgoingUpdate({ id: 'c' }, { ...first, messageId: 9 })).resolves.toBeUndefined()
    expect((await readAll(store.outgoingStream({ id: 'c' }))).map((p) => [p.payload, p.messageId])).toEqual([['second', undefined]])
  })
})

describe('nedb store: isQueued', () => {
  test('true while the message waits or is in flight for that client, false once acknowledged or for others', async () => {
    const { store } = await openStore(undefined)
    const p = publish('t', 'x')
    expect(store.isQueued({ id: 'c' }, p)).toBe(false)
    await store.outgoingEnqueueCombi([{ clientId: 'c' }], p)
    expect(store.isQueued({ id: 'c' }, p)).toBe(true)
    expect(store.isQueued({ id: 'other' }, p)).toBe(false)
    await store.outgoingUpdate({ id: 'c' }, { ...p, messageId: 3 })
    expect(store.isQueued({ id: 'c' }, { ...p, messageId: 3 })).toBe(true)
    await store.outgoingClearMessageId({ id: 'c' }, { cmd: 'puback', messageId: 3 })
    expect(store.isQueued({ id: 'c' }, p)).toBe(false)
  })
})
