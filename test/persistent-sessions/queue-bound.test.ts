import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openStore, publish, readAll, tempDir } from './helpers.js'

const withPriority = (topic: string, priority?: number) =>
  publish(topic, topic, priority === undefined ? {} : { properties: { priority } })

describe('nedb store: maxQueued', () => {
  test('overflow drops the lowest-priority, oldest message and reports each drop', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store, drops } = await openStore(file, { maxQueued: 3 })
    const enqueue = (topic: string, priority?: number) => store.outgoingEnqueueCombi([{ clientId: 'c1' }], withPriority(topic, priority))

    await enqueue('p1') // default priority 4
    await enqueue('p2', 1)
    await enqueue('p3', 1)
    expect(drops).toEqual([])
    await enqueue('p4', 9) // over: the lowest priority is 1, the oldest of those p2
    await enqueue('p5', 0) // the newcomer is the lowest itself
    await enqueue('p6', 1) // p3 is now the oldest of priority 1

    expect(drops.map((d) => [d.reason, d.clientId, d.packet.topic, d.packet.properties?.priority])).toEqual([
      ['queue_full', 'c1', 'p2', 1],
      ['queue_full', 'c1', 'p5', 0],
      ['queue_full', 'c1', 'p3', 1],
    ])
    expect(drops[0]?.packet.payload).toBe('p2')
    expect((await readAll(store.outgoingStream({ id: 'c1' }))).map((p) => p.topic)).toEqual(['p1', 'p4', 'p6'])

    await store.destroy()
    const reopened = await openStore(file, { maxQueued: 3 })
    expect((await readAll(reopened.store.outgoingStream({ id: 'c1' }))).map((p) => p.topic)).toEqual(['p1', 'p4', 'p6'])
    expect(reopened.drops).toEqual([])
  })

  test('each subscriber queue is bounded on its own; a message dropped everywhere leaves nothing behind', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store, drops } = await openStore(file, { maxQueued: 1 })
    await store.outgoingEnqueueCombi([{ clientId: 'a' }], withPriority('keep-a', 9))
    await store.outgoingEnqueueCombi([{ clientId: 'b' }], withPriority('keep-b', 9))
    await store.outgoingEnqueueCombi([{ clientId: 'a' }, { clientId: 'b' }], withPriority('low', 0))
    expect(drops.map((d) => [d.clientId, d.packet.topic])).toEqual([['a', 'low'], ['b', 'low']])
    await store.destroy()
    const reopened = await openStore(file)
    expect((await readAll(reopened.store.outgoingStream({ id: 'a' }))).map((p) => p.topic)).toEqual(['keep-a'])
    expect((await readAll(reopened.store.outgoingStream({ id: 'b' }))).map((p) => p.topic)).toEqual(['keep-b'])
  })

  test('sent-but-unacknowledged messages count and may go; a PUBREL owed to the client never does', async () => {
    const { store, drops } = await openStore(undefined, { maxQueued: 2 })
    const c1 = { id: 'c1' }
    const sent = withPriority('sent', 0)
    const handshake = publish('qos2', 'x', { qos: 2 })
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], sent)
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], handshake)
    await store.outgoingUpdate(c1, { ...sent, messageId: 1 })
    await store.outgoingUpdate(c1, { ...handshake, messageId: 2 })
    await store.outgoingUpdate(c1, { cmd: 'pubrel', messageId: 2 })

    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], withPriority('waiting', 5))
    expect(drops.map((d) => d.packet.topic)).toEqual(['sent'])
    // its late PUBACK finds nothing, and that is fine
    expect(await store.outgoingClearMessageId(c1, { cmd: 'puback', messageId: 1 })).toBeUndefined()
    // a client that matched twice gets two copies; the PUBREL outlives both rounds
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }, { clientId: 'c1' }], withPriority('twice', 9))
    expect(drops.map((d) => d.packet.topic)).toEqual(['sent', 'waiting', 'twice'])
    expect((await readAll(store.outgoingStream(c1))).map((p) => p.cmd + ':' + String(p.topic))).toEqual(['pubrel:undefined', 'publish:twice'])
  })
})
