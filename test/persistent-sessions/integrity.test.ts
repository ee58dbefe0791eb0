import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { NedbPersistence, StoreCorruptError, StoreUnavailableError } from '../../plugins/persistent-sessions/index.js'
import { captureLog, openStore, publish, readAll, tempDir } from './helpers.js'

/** A datafile with three queued messages for c1, closed cleanly. */
async function storeWithData (): Promise<string> {
  const file = join(tempDir(), 'sessions.db')
  const { store } = await openStore(file)
  await store.addSubscriptions({ id: 'c1' }, [{ topic: 't', qos: 1 }])
  for (const text of ['one', 'two', 'three']) await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', text))
  await store.destroy()
  return file
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')

describe('nedb store: a damaged datafile', () => {
  test('garbage in the middle fails the start, naming the file and the line', async () => {
    const file = await storeWithData()
    const all = lines(file)
    writeFileSync(file, [all[0], '{"_id":"x", "t": "q", garbage', ...all.slice(1)].join('\n') + '\n')

    const store = new NedbPersistence({ filename: file })
    const err = await store.setup({ id: 'b' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect(err).toMatchObject({ code: 'ERR_STORE_CORRUPT', file, line: 2 })
    expect((err as Error).message).toContain(`${file} is corrupt at line 2`)
    // the reason never quotes the line: lines hold payloads
    expect((err as Error).message).not.toContain('garbage')
  })

  test('valid JSON that is not a document is damage too', async () => {
    const file = await storeWithData()
    const all = lines(file)
    writeFileSync(file, [...all.slice(0, 3), '42', ...all.slice(3)].join('\n') + '\n')
    await expect(new NedbPersistence({ filename: file }).setup({ id: 'b' })).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT', line: 4 })
  })

  test('a line that is a document but not a record midge can read fails the start, naming its line', async () => {
    for (const bad of ['{"_id":"zz1","t":"r"}', '{"_id":"zz2","t":"s","c":"c1","l":5}', '{"_id":"zz3","t":"x"}', '{"_id":"#7","t":"q"}']) {
      const file = await storeWithData()
      const all = lines(file)
      writeFileSync(file, [all[0], bad, ...all.slice(1)].join('\n') + '\n')
      const err = await new NedbPersistence({ filename: file }).setup({ id: 'b' }).catch((e: unknown) => e)
      expect(err, bad).toBeInstanceOf(StoreCorruptError)
      // nedb rewrote the file while loading: the line is where the record is now
      const id = (JSON.parse(bad) as { _id: string })._id
      const at = lines(file).findIndex((l) => l.includes(`"_id":${JSON.stringify(id)}`)) + 1
      expect(at, bad).toBeGreaterThan(0)
      expect(err, bad).toMatchObject({ code: 'ERR_STORE_CORRUPT', file, line: at })
      expect((err as Error).message).toContain(`record ${JSON.stringify(id)} is not one midge can read`)
      // refused, the file is not left locked: once repaired, it opens in this very process
      expect(existsSync(`${file}.lock`), bad).toBe(false)
    }
  })

  test('a data directory that cannot hold the store is one line naming the file and the error code', async () => {
    const blocker = join(tempDir(), 'not-a-dir')
    writeFileSync(blocker, 'x')
    const err = await new NedbPersistence({ filename: join(blocker, 'sessions.db') }).setup({ id: 'b' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreUnavailableError)
    expect((err as Error).message).toMatch(new RegExp(`^session store ${join(blocker, 'sessions.db')}: cannot open it: (ENOTDIR|EEXIST)`))
  })

  test('a last line cut short by a crash is dropped and reported; everything before it loads', async () => {
    const file = await storeWithData()
    const { store } = await openStore(file)
    await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'four'))
    await store.destroy()
    const count = lines(file).length
    // cut the last append in half, as kill -9 or a power cut mid-write would
    const size = statSync(file).size
    const last = Buffer.byteLength(lines(file).at(-1) ?? '') + 1
    truncateSync(file, size - Math.ceil(last / 2))

    const capture = captureLog()
    const reopened = await openStore(file, { log: capture.log })
    const warning = await capture.waitFor('incomplete last line')
    expect(warning).toMatchObject({ level: 40, file, line: count })
    const queued = (await readAll(reopened.store.outgoingStream({ id: 'c1' }))).map((p) => p.payload)
    // the torn line was the 'four' entry (written after its body): the body is an orphan and goes too
    expect(queued).toEqual(['one', 'two', 'three'])
  })

  test('an unterminated garbage tail is tolerated; the next start finds a clean file', async () => {
    const file = await storeWithData()
    appendFileSync(file, '{"_id":"zz","t":"q","c":"c1","s":')
    const { store } = await openStore(file)
    expect((await readAll(store.outgoingStream({ id: 'c1' }))).map((p) => p.payload)).toEqual(['one', 'two', 'three'])
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true)
    expect(readFileSync(file, 'utf8')).not.toContain('"zz"')
  })
})

describe('nedb store: documents nedb would skip silently', () => {
  test('an object without _id in the middle fails the start too, naming the line', async () => {
    const file = await storeWithData()
    const all = lines(file)
    writeFileSync(file, [...all.slice(0, 2), '{"t":"q","c":"c1"}', ...all.slice(2)].join('\n') + '\n')
    await expect(new NedbPersistence({ filename: file }).setup({ id: 'b' })).rejects.toMatchObject({ code: 'ERR_STORE_CORRUPT', line: 3 })
    // refused before nedb's rewrite at load: the damage is still there to look at
    expect(lines(file)[2]).toBe('{"t":"q","c":"c1"}')
  })

  test('a document written with its keys in another order still loads', async () => {
    const file = await storeWithData()
    const all = lines(file)
    const reordered = JSON.parse(all[0] ?? '{}') as Record<string, unknown>
    const { _id: id, ...rest } = reordered
    writeFileSync(file, [JSON.stringify({ ...rest, _id: id }), ...all.slice(1)].join('\n') + '\n')
    const { store } = await openStore(file)
    expect((await readAll(store.outgoingStream({ id: 'c1' }))).map((p) => p.payload)).toEqual(['one', 'two', 'three'])
  })
})
