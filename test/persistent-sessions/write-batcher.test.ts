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
})
