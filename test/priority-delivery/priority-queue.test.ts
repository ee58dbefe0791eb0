import { describe, expect, test } from 'vitest'
import { clampPriority, PriorityQueue } from '../../plugins/priority-delivery/priority-queue.js'

function fill (q: PriorityQueue<string>, items: Array<[string, number]>): void {
  for (const [item, p] of items) q.push(item, p)
}

function popAll (q: PriorityQueue<string>, n = q.size): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(q.pop() as string)
  return out
}

describe('PriorityQueue', () => {
  test('strict: highest priority first, FIFO within a priority', () => {
    const q = new PriorityQueue<string>()
    fill(q, [['a1', 1], ['c9', 9], ['b4', 4], ['d9', 9], ['e1', 1], ['f0', 0]])
    expect(popAll(q)).toEqual(['c9', 'd9', 'b4', 'a1', 'e1', 'f0'])
    expect(q.pop()).toBeUndefined()
  })

  test('weighted: shares are p+1 over the waiting priorities (9 vs 0 → 10:1; 9, 5, 0 → 10:6:1)', () => {
    const q = new PriorityQueue<string>('weighted')
    for (let i = 0; i < 200; i++) q.push('9', 9)
    for (let i = 0; i < 200; i++) q.push('0', 0)
    const first = popAll(q, 110)
    expect(first.filter((x) => x === '0')).toHaveLength(10)

    const r = new PriorityQueue<string>('weighted')
    for (let i = 0; i < 500; i++) { r.push('9', 9); r.push('5', 5); r.push('0', 0) }
    const picks = popAll(r, 170)
    expect([picks.filter((x) => x === '9').length, picks.filter((x) => x === '5').length, picks.filter((x) => x === '0').length]).toEqual([100, 60, 10])
  })

  test('weighted: a lone priority gets every hand-over; FIFO holds within a priority', () => {
    const q = new PriorityQueue<string>('weighted')
    fill(q, [['x1', 3], ['x2', 3], ['x3', 3]])
    expect(popAll(q)).toEqual(['x1', 'x2', 'x3'])
  })

  test('popLowest takes the lowest priority, oldest; remove skips an item in place', () => {
    const q = new PriorityQueue<string>()
    q.push('h', 9)
    const gone = q.push('l1', 1)
    q.push('l2', 1)
    q.push('z', 0)
    expect(q.popLowest()?.item).toBe('z')
    q.remove(gone)
    q.remove(gone) // idempotent
    expect(q.size).toBe(2)
    expect(q.popLowest()?.item).toBe('l2')
    expect(popAll(q)).toEqual(['h'])
  })

  test('drain empties it, highest first, FIFO within', () => {
    const q = new PriorityQueue<string>()
    fill(q, [['a', 2], ['b', 7], ['c', 2]])
    expect(q.drain()).toEqual(['b', 'a', 'c'])
    expect(q.size).toBe(0)
  })

  test('stays FIFO across compactions of a long bucket', () => {
    const q = new PriorityQueue<number>()
    const out: number[] = []
    for (let i = 0; i < 5000; i++) {
      q.push(i, 5)
      if (i % 3 === 0) out.push(q.pop() as number)
    }
    while (q.size > 0) out.push(q.pop() as number)
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i))
  })

  test('priorities are clamped to 0–9', () => {
    expect([clampPriority(-3), clampPriority(12), clampPriority(4.7), clampPriority(Number.NaN)]).toEqual([0, 9, 4, 0])
  })
})
