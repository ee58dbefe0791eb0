import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openStore, publish, readAll, tempDir } from './helpers.js'

const meta = { priority: 7, expiresAt: 1_900_000_000_000, attempts: 2, firstPublishedAt: 1_700_000_000_000 }
// bytes that are not valid UTF-8, and every byte value: a JSON-encoded Buffer would not survive this
const binary = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28]), randomBytes(64), Buffer.from(Array.from({ length: 256 }, (_, i) => i))])

describe('nedb store: everything survives a restart', () => {
  test('subscriptions, queues in order, QoS 2 state both ways, wills, retained; Buffers and properties exact', async () => {
    const file = join(tempDir(), 'sessions.db')
    const first = await openStore(file, { now: () => 5_000 })
    const s = first.store
    const c1 = { id: 'c1' }

    await s.addSubscriptions(c1, [
      { topic: 'a/#', qos: 1, rh: 0, rap: true, nl: false },
      { topic: 'b', qos: 2, rh: 1, rap: false, nl: true, subscriptionIdentifier: 9 },
      { topic: 'z', qos: 0 },
    ])
    await s.storeRetained({ cmd: 'publish', topic: 'r/bin', payload: binary, qos: 1, retain: true, properties: { ...meta, correlationData: Buffer.from([1, 2, 3]) } })
    // U+2028 in a topic and a string payload: nedb's line reader splits on it unless escaped
    await s.storeRetained({ cmd: 'publish', topic: 'r/\u2028', payload: 'héllo\u2028\u2029\u0085 wörld', qos: 0, retain: true })

    const a = publish('a/1', binary, { properties: meta })
    const b = publish('a/2', Buffer.from('second'), { qos: 2 })
    const c = publish('a/3', 'a string payload', { properties: { priority: 1 } })
    for (const p of [a, b, c]) await s.outgoingEnqueueCombi([{ clientId: 'c1' }, { clientId: 'c2' }], p)
    await s.outgoingUpdate(c1, { ...a, messageId: 5 }) // a: sent, in flight
    await s.outgoingUpdate(c1, { ...b, messageId: 6 }) // b: sent …
    await s.outgoingUpdate(c1, { cmd: 'pubrel', messageId: 6 }) // … PUBREC received, PUBREL owed

    await s.incomingStorePacket(c1, { cmd: 'publish', topic: 'in/1', payload: binary, qos: 2, messageId: 42, properties: meta })
    await s.putWill(c1, { cmd: 'publish', topic: 'will/c1', payload: Buffer.from([0xde, 0xad]), qos: 1, retain: false })
    await s.markOffline('c1')
    await s.destroy()

    const { store } = await openStore(file, { now: () => 9_000 })

    expect(await store.subscriptionsByClient(c1)).toEqual([
      { topic: 'a/#', qos: 1, rh: 0, rap: true, nl: false },
      { topic: 'b', qos: 2, rh: 1, rap: false, nl: true, subscriptionIdentifier: 9 },
      { topic: 'z', qos: 0, rh: undefined, rap: undefined, nl: undefined },
    ])
    expect(await store.subscriptionsByTopic('a/x')).toEqual([{ clientId: 'c1', topic: 'a/#', qos: 1, rh: 0, rap: true, nl: false }])
    expect(await store.countOffline()).toEqual({ subsCount: 2, clientsCount: 1 })

    const retained = await readAll(store.createRetainedStream('r/+'))
    expect(retained).toHaveLength(2)
    const [rb, rs] = retained
    expect(Buffer.isBuffer(rb?.payload) && rb.payload.equals(binary)).toBe(true)
    expect(rb?.properties).toEqual({ ...meta, correlationData: Buffer.from([1, 2, 3]) })
    expect(Buffer.isBuffer(rb?.properties?.correlationData)).toBe(true)
    expect(rs).toMatchObject({ topic: 'r/\u2028', payload: 'héllo\u2028\u2029\u0085 wörld' })

    const q1 = await readAll(store.outgoingStream(c1))
    expect(q1.map((p) => [p.cmd, p.topic, p.messageId])).toEqual([['publish', 'a/1', 5], ['pubrel', undefined, 6], ['publish', 'a/3', undefined]])
    expect(q1[0]?.properties).toEqual(meta)
    expect(Buffer.isBuffer(q1[0]?.payload) && q1[0].payload.equals(binary)).toBe(true)
    expect(q1[0]).toMatchObject({ brokerId: a.brokerId, brokerCounter: a.brokerCounter, qos: 1 })
    expect(q1[1]).toEqual({ cmd: 'pubrel', messageId: 6 })
    expect(q1[2]?.payload).toBe('a string payload')
    expect(q1[2]?.properties).toEqual({ priority: 1 })

    const q2 = await readAll(store.outgoingStream({ id: 'c2' }))
    expect(q2.map((p) => [p.topic, p.messageId])).toEqual([['a/1', undefined], ['a/2', undefined], ['a/3', undefined]])

    const incoming = await store.incomingGetPacket(c1, { messageId: 42 })
    expect(incoming).toMatchObject({ topic: 'in/1', qos: 2, messageId: 42, properties: meta })
    expect(Buffer.isBuffer(incoming.payload) && incoming.payload.equals(binary)).toBe(true)

    const will = await store.getWill(c1)
    expect(will).toMatchObject({ topic: 'will/c1', brokerId: 'broker-1', clientId: 'c1' })
    expect(will?.payload).toEqual(Buffer.from([0xde, 0xad]))
    expect(store.lastSeen('c1')).toBe(5_000)
  })

  test('acks, unsubscribes and deletions are durable too, and the file is compacted at start', async () => {
    const file = join(tempDir(), 'sessions.db')
    const first = await openStore(file)
    const c1 = { id: 'c1' }
    const packets = [publish('t', 'one'), publish('t', 'two'), publish('t', 'three')]
    await first.store.addSubscriptions(c1, [{ topic: 't', qos: 1 }, { topic: 'u', qos: 1 }])
    for (const p of packets) await first.store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)
    await first.store.outgoingUpdate(c1, { ...packets[0], messageId: 1 })
    await first.store.outgoingClearMessageId(c1, { cmd: 'puback', messageId: 1 })
    await first.store.removeSubscriptions(c1, ['u'])
    await first.store.storeRetained({ cmd: 'publish', topic: 'r', payload: Buffer.from('x'), retain: true })
    await first.store.storeRetained({ cmd: 'publish', topic: 'r', payload: Buffer.alloc(0), retain: true })
    await first.store.destroy()

    const { store } = await openStore(file)
    expect((await readAll(store.outgoingStream(c1))).map((p) => p.payload)).toEqual(['two', 'three'])
    expect((await store.subscriptionsByClient(c1)).map((s) => s.topic)).toEqual(['t'])
    expect(await readAll(store.createRetainedStream('#'))).toEqual([])
    // one line per live document: the subscriptions, one entry per queued message (queued for one
    // client only, so it carries the body), and the last-seen record written at load for a session the
    // file had none for
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(1 + 2 + 1)
  })

  test('a write resolves only once it is in the file', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store } = await openStore(file)
    const payload = randomBytes(32)
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', payload))
    expect(readFileSync(file, 'utf8')).toContain(payload.toString('base64'))
    await store.incomingStorePacket({ id: 'c1' }, { cmd: 'publish', topic: 'i', payload: Buffer.from('incoming-marker'), qos: 2, messageId: 3 })
    expect(readFileSync(file, 'utf8')).toContain(Buffer.from('incoming-marker').toString('base64'))
  })

  test('writes requested in one tick go out as one batch', async () => {
    const { store } = await openStore(join(tempDir(), 'sessions.db'))
    const subs = Array.from({ length: 10 }, (_, i) => ({ clientId: `c${i}` }))
    const before = store.stats.batches
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.outgoingEnqueueCombi(subs, publish('t', `m${i}`))))
    expect(store.stats.batches - before).toBe(1)
    expect((await readAll(store.outgoingStream({ id: 'c3' }))).map((p) => p.payload)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`))
  })

  test('a crash between writing a new version and removing the old one keeps the new one', async () => {
    const file = join(tempDir(), 'sessions.db')
    const first = await openStore(file)
    const c1 = { id: 'c1' }
    const p = publish('t', 'x')
    await first.store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)
    await first.store.outgoingUpdate(c1, { ...p, messageId: 77 })
    await first.store.destroy()
    // drop the last line: the removal of the entry's previous version, as if the process died before it
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
    expect(lines.at(-1)).toContain('$$deleted')
    writeFileSync(file, lines.slice(0, -1).join('\n') + '\n')

    const { store } = await openStore(file)
    expect((await readAll(store.outgoingStream(c1))).map((q) => [q.payload, q.messageId])).toEqual([['x', 77]])
  })

  test('two QoS 2 handshakes in flight: each PUBREC replaces its own message, and PUBREL objects are never rewritten', async () => {
    const file = join(tempDir(), 'sessions.db')
    const first = await openStore(file)
    const c1 = { id: 'c1' }
    const [one, two] = [publish('t', 'one', { qos: 2 }), publish('t', 'two', { qos: 2 })]
    for (const p of [one, two]) await first.store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)
    await first.store.outgoingUpdate(c1, { ...one, messageId: 1 })
    await first.store.outgoingUpdate(c1, { ...two, messageId: 2 })
    const rel1 = { cmd: 'pubrel', messageId: 1 }
    const rel2 = { cmd: 'pubrel', messageId: 2 }
    // aedes writes each PUBREL only once its update resolved: here both updates race
    await Promise.all([first.store.outgoingUpdate(c1, rel1), first.store.outgoingUpdate(c1, rel2)])
    expect([rel1.messageId, rel2.messageId]).toEqual([1, 2])
    expect(await readAll(first.store.outgoingStream(c1))).toEqual([rel1, rel2])
    await first.store.outgoingClearMessageId(c1, { cmd: 'pubcomp', messageId: 1 })
    await first.store.destroy()

    const { store } = await openStore(file)
    expect(await readAll(store.outgoingStream(c1))).toEqual([rel2])
  })
})
