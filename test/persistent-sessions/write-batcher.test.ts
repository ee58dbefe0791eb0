import { describe, expect, test } from 'vitest'
import { WriteBatcher, type BatchSink } from '../../plugins/persistent-sessions/store/write-batcher.js'

interface Doc { _id: string }
interface Call { puts: string[], dels: string[], done: () => void, fail: (err: Error) => void }

/** A sink that records each append and lets the test decide when it completes. */
function gatedSink (): { sink: BatchSink<Doc>, calls: Call[], next: () => Promise<void> } {
  const calls: Call[] = []
  let notify: (() => void) | undefined
  const sink: BatchSink<Doc> = {
    write: (docs, removed) => new Promise<void>((resolve, reject) => {
      calls.push({ puts: docs.map((d) => d._id), dels: [...removed], done: resolve, fail: reject })
      notify?.()
    }),
  }
  return { calls, sink, next: () => new Promise((resolve) => { notify = resolve }) }
}

const shape = (calls: Call[]): Array<[string[], string[]]> => calls.map((c) => [c.puts, c.dels])

describe('write batcher', () => {
  test('one append per batch: documents, then removals; callers released once it is written', async () => {
    const { sink, calls, next } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.put({ _id: 'old' })
    const seeded = batcher.commit()
    await next()
    calls[0]?.done()
    await seeded

    batcher.put({ _id: 'new' })
    batcher.del('old')
    batcher.put({ _id: 'other' })
    let released = false
    const committed = batcher.commit().then(() => { released = true })
    await next()
    expect(shape(calls)).toEqual([[['old'], []], [['new', 'other'], ['old']]])
    await new Promise((resolve) => setImmediate(resolve))
    expect(released).toBe(false)
    calls[1]?.done()
    await committed
    expect(batcher.stats).toMatchObject({ batches: 2, inserted: 3, removed: 1 })
  })

  test('flush() writes queued changes with nobody waiting, in order behind the batch being written', async () => {
    const { sink, calls, next } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.put({ _id: 'a' })
    const first = batcher.commit()
    await next()
    expect(shape(calls)).toEqual([[['a'], []]])

    // while 'a' is on its way: changes nobody awaits
    batcher.put({ _id: 'b' })
    batcher.del('a')
    batcher.flush()
    const second = next()
    calls[0]?.done()
    await first
    await second
    expect(shape(calls)).toEqual([[['a'], []], [['b'], ['a']]])
    calls[1]?.done()
    await batcher.drain()
    expect(calls).toHaveLength(2)
  })

  test('changes nobody waits for collect: they go with the next commit, or on their own a few ms later', async () => {
    const { sink, calls, next } = gatedSink()
    const batcher = new WriteBatcher<Doc>(sink, (err) => { throw err })
    batcher.del('acked-1')
    batcher.flush()
    await new Promise((resolve) => setImmediate(resolve))
    batcher.del('acked-2')
    batcher.flush()
    await new Promise((resolve) => setImmediate(resolve))
    expect(calls).toEqual([])
    batcher.put({ _id: 'stored' })
    const committed = batcher.commit()
    await next()
    expect(shape(calls)).toEqual([[['stored'], ['acked-1', 'acked-2']]])
    calls[0]?.done()
    await committed

    batcher.del('acked-3')
    batcher.flush()
    await next()
    expect(shape(calls).at(-1)).toEqual([[], ['acked-3']])
    calls.at(-1)?.done()
    await batcher.drain()
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

  test('a failed append rejects its callers and is reported; the next batch still goes', async () => {
    const { sink, calls, next } = gatedSink()
    const errors: unknown[] = []
    const batcher = new WriteBatcher<Doc>(sink, (err) => errors.push(err))
    batcher.put({ _id: 'a' })
    const failed = batcher.commit()
    await next()
    calls[0]?.fail(new Error('disk full'))
    await expect(failed).rejects.toThrow('disk full')
    expect(errors).toHaveLength(1)
    batcher.put({ _id: 'b' })
    const ok = batcher.commit()
    await next()
    calls[1]?.done()
    await ok
    expect(shape(calls)).toEqual([[['a'], []], [['b'], []]])
  })
})
