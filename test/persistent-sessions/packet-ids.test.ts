import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openStore, publish, readAll, tempDir } from './helpers.js'

/**
 * Packet ids of outgoing deliveries (`outgoingUpdate`). A QoS 1 id is kept in
 * memory only: the delivery does not wait for the disk, and a crash only
 * means the message goes out again under a new id (at least once). A QoS 2 id
 * must be in the file before the PUBLISH goes out (exactly once), and so must
 * a PUBREL.
 */
describe('nedb store: packet ids of outgoing deliveries', () => {
  test('a QoS 1 id is not written until a clean close; after a crash the message is queued as not yet sent', async () => {
    const dir = tempDir()
    const file = join(dir, 'sessions.db')
    const { store } = await openStore(file)
    const c1 = { id: 'c1' }
    const p = publish('t', 'x')
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)
    const batches = store.stats.batches
    await store.outgoingUpdate(c1, { ...p, messageId: 5 })
    expect(store.stats.batches).toBe(batches)
    expect((await readAll(store.outgoingStream(c1))).map((q) => q.messageId)).toEqual([5])

    // what a kill -9 now leaves on disk
    const crashed = join(dir, 'crashed.db')
    copyFileSync(file, crashed)
    await store.destroy()

    const afterCrash = await openStore(crashed)
    expect((await readAll(afterCrash.store.outgoingStream(c1))).map((q) => [q.payload, q.messageId])).toEqual([['x', undefined]])
    const afterClose = await openStore(file)
    expect((await readAll(afterClose.store.outgoingStream(c1))).map((q) => [q.payload, q.messageId])).toEqual([['x', 5]])
  })

  test('a QoS 2 id is in the file when its update resolves, and a QoS 1 delivery behind it waits for it (order kept)', async () => {
    const dir = tempDir()
    const file = join(dir, 'sessions.db')
    const { store } = await openStore(file)
    const c1 = { id: 'c1' }
    const two = publish('t', 'two', { qos: 2 })
    const one = publish('t', 'one', { qos: 1 })
    for (const p of [two, one]) await store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)

    const order: string[] = []
    const crashed = join(dir, 'crashed.db')
    await Promise.all([
      store.outgoingUpdate(c1, { ...two, messageId: 1 }).then(() => {
        order.push('two')
        copyFileSync(file, crashed)
      }),
      store.outgoingUpdate(c1, { ...one, messageId: 2 }).then(() => order.push('one')),
    ])
    expect(order).toEqual(['two', 'one'])
    // another client's QoS 1 delivery does not wait
    await store.outgoingEnqueueCombi([{ clientId: 'c2' }], publish('t', 'other'))
    const [other] = await readAll(store.outgoingStream({ id: 'c2' }))
    const three = publish('t', 'three', { qos: 2 })
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], three)
    const first: string[] = []
    await Promise.all([
      store.outgoingUpdate(c1, { ...three, messageId: 3 }).then(() => first.push('c1 qos 2')),
      store.outgoingUpdate({ id: 'c2' }, { ...other, messageId: 9 }).then(() => first.push('c2 qos 1')),
    ])
    expect(first).toEqual(['c2 qos 1', 'c1 qos 2'])

    const afterCrash = await openStore(crashed)
    expect((await readAll(afterCrash.store.outgoingStream(c1))).map((q) => [q.payload, q.messageId])).toEqual([['two', 1], ['one', undefined]])
  })
})
