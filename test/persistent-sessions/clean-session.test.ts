import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { openStore, publish, readAll, tempDir } from './helpers.js'

/**
 * [MQTT-3.1.2-6] on the nedb store: aedes calls `cleanIncoming` for a clean
 * CONNECT (the previous session goes, queue included) and again once a clean
 * client's connection has closed, when a newer connection may own the id.
 */
describe('nedb store: cleanIncoming', () => {
  test('for a connecting clean client it drops the queue; for one whose connection has closed it leaves it', async () => {
    const { store } = await openStore(join(tempDir(), 'sessions.db'))
    const queued = async (): Promise<unknown[]> => (await readAll(store.outgoingStream({ id: 'c1' }))).map((p) => String(p.payload))
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'one'))
    await store.cleanIncoming({ id: 'c1', closed: true } as { id: string })
    expect(await queued()).toEqual(['one'])
    await store.cleanIncoming({ id: 'c1' })
    expect(await queued()).toEqual([])
  })
})
