import { execFileSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Datastore from 'nedb-promises'
import { describe, expect, test } from 'vitest'
import { peerInstalled } from '../helpers/peers.js'
import { captureLog, openStore, publish, readAll, tempDir } from './helpers.js'

/** The datafile's lines, parsed. */
function lines (file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

/**
 * midge appends to the nedb datafile itself and compacts it itself (see
 * store/datafile.ts); nedb-promises still loads it. These pin that the file
 * stays nedb's format and that a compaction under way loses nothing.
 */
describe('nedb store: the datafile midge writes', () => {
  test('is nedb\'s format: nedb-promises loads exactly the live documents, removals applied', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store } = await openStore(file)
    const c1 = { id: 'c1' }
    const kept = publish('t/\u2028', 'kept \u2029')
    const acked = publish('t', 'acked')
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], acked)
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }, { clientId: 'c2' }], kept)
    await store.outgoingUpdate(c1, { ...acked, messageId: 1 })
    await store.outgoingClearMessageId(c1, { cmd: 'puback', messageId: 1 })
    await store.addSubscriptions(c1, [{ topic: 't', qos: 1 }])
    await store.destroy()

    // removals are nedb's own records; every line is one document (U+2028/2029 escaped)
    expect(lines(file).some((l) => l.$$deleted === true)).toBe(true)
    // on a copy: nedb rewrites what it loads, and without midge's escaping (U+2028) that breaks the file
    const copy = join(dirname(file), 'copy.db')
    copyFileSync(file, copy)
    const db = Datastore.create({ filename: copy })
    await db.load()
    const docs = await db.find<{ t: string }>({})
    // one body and two entries for `kept`, the subscriptions
    expect(docs.map((d) => d.t).sort()).toEqual(['m', 'q', 'q', 's'])

    const { store: again } = await openStore(file)
    expect((await readAll(again.outgoingStream(c1))).map((p) => [p.topic, p.payload])).toEqual([['t/\u2028', 'kept \u2029']])
  })

  test('a compaction while writes keep coming keeps every live document, drops the rest, and takes the writes behind it', async () => {
    const file = join(tempDir(), 'sessions.db')
    const { store } = await openStore(file)
    const c1 = { id: 'c1' }
    const sent = Array.from({ length: 200 }, (_, i) => publish('t', `m${i}`))
    for (const p of sent) await store.outgoingEnqueueCombi([{ clientId: 'c1' }], p)
    for (let i = 0; i < 150; i++) {
      await store.outgoingUpdate(c1, { ...sent[i], messageId: i + 1 })
      await store.outgoingClearMessageId(c1, { cmd: 'puback', messageId: i + 1 })
    }
    // a write waited for: the acks' removals (written without waiting) are in the file too
    await store.addSubscriptions(c1, [{ topic: 't', qos: 1 }])
    const before = lines(file).length
    // one line per message (queued for one client, its entry carries the body), one per ack, the subscriptions
    expect(before).toBe(200 + 150 + 1)

    const during = [publish('t', 'during-1'), publish('t', 'during-2')]
    const compacted = store.compact()
    // queued behind the compaction: they must end up in the new file
    const writes = during.map((p) => store.outgoingEnqueueCombi([{ clientId: 'c1' }], p))
    const ack = store.outgoingUpdate(c1, { ...sent[150], messageId: 151 })
      .then(() => store.outgoingClearMessageId(c1, { cmd: 'puback', messageId: 151 }))
    await Promise.all([compacted, ...writes, ack])
    await store.destroy()

    // the 49 messages left and the subscriptions, then what came behind the compaction
    // (the two new messages, and removals: of the message acknowledged, and of documents the copy no longer had)
    const after = lines(file)
    expect(after.length).toBeLessThan(49 + 1 + 2 + 10)
    const { store: again } = await openStore(file)
    expect((await readAll(again.outgoingStream(c1))).map((p) => p.payload)).toEqual([
      ...sent.slice(151).map((p) => p.payload),
      'during-1', 'during-2',
    ])
  })

  test('a crash after the compacted copy was written but before it replaced the file: the file as it was loads', async () => {
    const dir = tempDir()
    const file = join(dir, 'sessions.db')
    const first = await openStore(file)
    await first.store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'x'))
    await first.store.destroy()
    // a half-written copy left behind
    writeFileSync(file + '~', '{"_id":"zz","t":"m","j":"{\\"f\\":{}}"}\n{"_id":')

    const { store } = await openStore(file)
    expect((await readAll(store.outgoingStream({ id: 'c1' }))).map((p) => p.payload)).toEqual(['x'])
  })

  test('it is compacted on its own once the lines appended outgrow the live documents (4x, at least 100k lines)', async () => {
    const file = join(tempDir(), 'sessions.db')
    const capture = captureLog()
    const { store } = await openStore(file, { log: capture.log, compactInterval: 0 })
    const c1 = { id: 'c1' }
    const c2 = { id: 'c2' }
    // 18k messages queued for two clients and acknowledged by both: 3 lines in (a body, two entries), 3 removals out each
    for (let chunk = 0; chunk < 18; chunk++) {
      const packets = Array.from({ length: 1000 }, (_, i) => publish('t', `m${chunk}-${i}`))
      await Promise.all(packets.map((p) => store.outgoingEnqueueCombi([{ clientId: 'c1' }, { clientId: 'c2' }], p)))
      for (const client of [c1, c2]) {
        for (const [i, p] of packets.entries()) {
          await store.outgoingUpdate(client, { ...p, messageId: i + 1 })
          await store.outgoingClearMessageId(client, { cmd: 'puback', messageId: i + 1 })
        }
      }
    }
    await store.addSubscriptions(c1, [{ topic: 't', qos: 1 }])
    await capture.waitFor('session store compacted')
    await store.destroy()
    // 108k lines were appended; what is left is what came after the compaction (removals of the last chunk)
    expect(lines(file).length).toBeLessThan(7_000)
    const { store: again } = await openStore(file)
    expect(await readAll(again.outgoingStream(c1))).toEqual([])
    expect((await again.subscriptionsByClient(c1)).map((s) => s.topic)).toEqual(['t'])
  }, 30_000)

  /**
   * A full disk, made with this process's own file-size limit (RLIMIT_FSIZE,
   * soft only, so it can be lifted again without privileges): an append stops
   * part way with EFBIG, as one does with ENOSPC.
   */
  const limitFileSize = (limit: string): void => { execFileSync('prlimit', ['--pid', String(process.pid), `--fsize=${limit}:`]) }
  const prlimitHere = peerInstalled('prlimit')

  test.skipIf(!prlimitHere)('a write that fails part way (disk full) is cut off: the next one starts a line, a restart loads every acknowledged message, the outage is logged once and its end (not at a write that fits between failures)', async () => {
    const file = join(tempDir(), 'sessions.db')
    const capture = captureLog()
    let now = 1_000_000
    const { store } = await openStore(file, { compactInterval: 0, log: capture.log, now: () => now })
    const c1 = { id: 'c1' }
    const acked: string[] = []
    let failures = 0
    let n = 0
    const enqueue = async (): Promise<void> => {
      const payload = `m-${++n}-${'x'.repeat(200)}`
      await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', payload))
      acked.push(payload)
    }
    limitFileSize(String(readFileSync(file).length + 64 * 1024))
    try {
      while (failures < 3) await enqueue().catch(() => { failures++ })
    } finally {
      limitFileSize('unlimited')
    }
    expect(acked.length).toBeGreaterThan(100)
    // A nearly full disk: a small write fits between failing ones. That is no end of the outage
    // (it was logged as over and begun again several times a second).
    await enqueue()
    limitFileSize(String(readFileSync(file).length + 100))
    try {
      await expect(enqueue()).rejects.toThrow()
    } finally {
      limitFileSize('unlimited')
    }
    expect(capture.lines.filter((l) => String(l.msg).includes('session store writes work again'))).toHaveLength(0)
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true)
    // what /ready and midge_store_up read; a failure nothing has retried for a while no longer counts
    expect(store.writeFailure).toBe('EFBIG')
    now += 29_000
    expect(store.writeFailure).toBe('EFBIG')
    now += 2_000
    expect(store.writeFailure).toBeUndefined()
    await enqueue() // room again
    expect(capture.lines.filter((l) => String(l.msg).includes('session store write failed'))).toHaveLength(1)
    await capture.waitFor('session store writes work again')
    expect(store.writeFailure).toBeUndefined()
    await store.destroy()

    const { store: again } = await openStore(file)
    const queued = await readAll(again.outgoingStream(c1))
    expect(queued.map((p) => String(p.payload))).toEqual(acked)
  })

  test.skipIf(!prlimitHere)('an outage whose last write worked soon after a failure still ends, and a later outage is logged again', async () => {
    const file = join(tempDir(), 'sessions.db')
    const capture = captureLog()
    let now = 1_000_000
    const { store } = await openStore(file, { compactInterval: 0, log: capture.log, now: () => now })
    let n = 0
    const enqueue = async (): Promise<void> => { await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', `m-${++n}-${'x'.repeat(200)}`)) }
    const failOnce = async (): Promise<void> => {
      limitFileSize(String(readFileSync(file).length + 100))
      try {
        await expect(enqueue()).rejects.toThrow()
      } finally {
        limitFileSize('unlimited')
      }
    }
    const logged = (text: string): number => capture.lines.filter((l) => String(l.msg).includes(text)).length
    await failOnce()
    now += 1_000
    await enqueue() // works, but too soon after the failure to end the outage; and then nothing is written
    expect(store.writeFailure).toBe('EFBIG')
    now += 5_000
    expect(store.writeFailure).toBeUndefined()
    expect(logged('session store writes work again')).toBe(1)
    now += 60_000
    await failOnce()
    expect(logged('session store write failed')).toBe(2)
    expect(store.writeFailure).toBe('EFBIG')
    await store.destroy()
  })
})
