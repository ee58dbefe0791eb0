import { describe, expect, test } from 'vitest'
import { WriteBatcher, type BatchSink } from '../../plugins/persistent-sessions/store/write-batcher.js'

interface Doc { _id: string }

/** A sink that records each call and lets the test decide when a write completes. */
function gatedSink (): { sink: BatchSink<Doc>, calls: Array<{ op: 'insert' | 'remove', ids: string[], done: () => void }>, next: () => Promise<void> } {
  const calls: Array<{ op: 'insert' | 'remove', ids: string[], done: () => void }> = []
  let notify: (() => void) | undefined
  const record = (op: 'insert' | 'remove', ids: string[]): Promise<void> => new Promise((resolve) => {
    calls.push({ op, ids, done: resolve })
    notify?.()
  })
  return {
    calls,
    sink: { insert: (docs) => record('insert', docs.map((d) => d._id)), remove: (ids) => record('remove', [...ids]) },
    next: () => new Promise((resolve) => { notify = resolve }),
  }
}

describe('write batcher', () => {
  test('flush() writes queued changes with nobody waiting, in order behind the batch being written', async () => {
    const { sink, calls, next } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.put({ _id: 'a' })
    const first = batcher.commit()
    await next()
    expect(calls.map((c) => [c.op, c.ids])).toEqual([['insert', ['a']]])

    // while 'a' is on its way: a change nobody awaits
    batcher.put({ _id: 'b' })
    batcher.del('a')
    batcher.flush()
    const second = next()
    calls[0]?.done()
    await first
    await second
    expect(calls.map((c) => [c.op, c.ids])).toEqual([['insert', ['a']], ['insert', ['b']]])
    const third = next()
    calls[1]?.done()
    await third
    calls[2]?.done()
    await batcher.drain()
    expect(calls.map((c) => [c.op, c.ids])).toEqual([['insert', ['a']], ['insert', ['b']], ['remove', ['a']]])
  })

  test('a put deleted before its batch goes out never reaches the sink', async () => {
    const { sink, calls } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.put({ _id: 'x' })
    batcher.flush()
    batcher.del('x')
    await batcher.drain()
    expect(calls).toEqual([])
    expect(batcher.stats.cancelled).toBe(1)
  })

  test('a lazy removal goes out in the same cycle, after the callers are released; a plain one before', async () => {
    const { sink, calls, next } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.put({ _id: 'old' })
    batcher.put({ _id: 'gone' })
    const seeded = batcher.commit()
    await next()
    calls[0]?.done()
    await seeded

    batcher.put({ _id: 'new' })
    batcher.del('old', true)
    batcher.del('gone')
    let released = false
    const committed = batcher.commit().then(() => { released = true })
    await next()
    expect(calls.at(-1)).toMatchObject({ op: 'insert', ids: ['new'] })
    const plain = next()
    calls.at(-1)?.done()
    await plain
    expect(calls.at(-1)).toMatchObject({ op: 'remove', ids: ['gone'] })
    expect(released).toBe(false)
    const lazy = next()
    calls.at(-1)?.done()
    await committed
    await lazy
    // released before the lazy removal is written
    expect(calls.at(-1)).toMatchObject({ op: 'remove', ids: ['old'] })
    calls.at(-1)?.done()
    await batcher.drain()
    expect(calls).toHaveLength(4)
  })
})
