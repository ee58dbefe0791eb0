/**
 * A compaction that fails after it closed the datafile (the rename of the
 * compacted copy over it, the directory sync) reopens the file: every append
 * after it failed, unreported, until a restart. The failure is injected in
 * node:fs/promises, since nothing on a test machine makes only a rename fail.
 */
import { join } from 'node:path'
import { expect, test, vi } from 'vitest'
import { captureLog, openStore, publish, readAll, tempDir } from './helpers.js'

const injected = vi.hoisted(() => ({ renameFails: false, reopenFails: false }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const rename: typeof real.rename = async (from, to) => {
    if (injected.renameFails) throw Object.assign(new Error(`EIO: i/o error, rename '${String(from)}'`), { code: 'EIO' })
    return real.rename(from, to)
  }
  const open: typeof real.open = async (path, flags, mode) => {
    if (injected.reopenFails && flags === 'a') throw Object.assign(new Error(`EIO: i/o error, open '${String(path)}'`), { code: 'EIO' })
    return real.open(path, flags, mode)
  }
  return { ...real, default: { ...real, rename, open }, rename, open }
})

test('appends still work after a compaction failed at its rename, and a restart has every message', async () => {
  const file = join(tempDir(), 'sessions.db')
  const { store } = await openStore(file, { compactInterval: 0 })
  const c1 = { id: 'c1' }
  await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'before'))
  injected.renameFails = true
  try {
    await expect(store.compact()).rejects.toThrow(/EIO/)
  } finally {
    injected.renameFails = false
  }
  expect(store.compactionFailures).toBe(1) // midge_store_compactions_failed_total
  await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'after'))
  expect(store.writeFailure).toBeUndefined()
  await store.destroy()

  const { store: again } = await openStore(file)
  expect((await readAll(again.outgoingStream(c1))).map((p) => String(p.payload))).toEqual(['before', 'after'])
})

test('if the file cannot be reopened either, appends fail as reported write failures, and work once it can', async () => {
  const file = join(tempDir(), 'sessions.db')
  const capture = captureLog()
  const { store } = await openStore(file, { compactInterval: 0, log: capture.log })
  const c1 = { id: 'c1' }
  Object.assign(injected, { renameFails: true, reopenFails: true })
  try {
    await expect(store.compact()).rejects.toThrow(/EIO/)
    await expect(store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'lost'))).rejects.toThrow(/EIO/)
    expect(store.writeFailure).toBe('EIO')
    await capture.waitFor('session store write failed')
  } finally {
    Object.assign(injected, { renameFails: false, reopenFails: false })
  }
  await store.outgoingEnqueueCombi([{ clientId: 'c1' }], publish('t', 'kept'))
  await store.destroy()
  const { store: again } = await openStore(file)
  expect((await readAll(again.outgoingStream(c1))).map((p) => String(p.payload))).toEqual(['kept'])
})
