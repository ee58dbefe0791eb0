/** How waiting messages are taken: always the highest priority, or shared by weight. */
export type HandOverMode = 'strict' | 'weighted'

/** Priorities are 0–9; 9 is served first. */
export const PRIORITY_LEVELS = 10

/** A queued item with its place; `remove` marks it gone without searching the queue. */
export interface Queued<T> {
  readonly item: T
  readonly priority: number
  gone: boolean
}

/** One priority's FIFO: an array with a moving head, compacted once half of it is spent. */
class Fifo<T> {
  #items: T[] = []
  #head = 0

  push (item: T): void {
    this.#items.push(item)
  }

  /** The oldest item still there, or undefined; `skip` says which items no longer count. */
  shift (skip: (item: T) => boolean): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as T
      this.#items[this.#head] = undefined as unknown as T
      this.#head++
      this.#compact()
      if (!skip(item)) return item
    }
    return undefined
  }

  /** Every item still there, oldest first. */
  values (): T[] {
    return this.#items.slice(this.#head)
  }

  clear (): void {
    this.#items = []
    this.#head = 0
  }

  #compact (): void {
    if (this.#head === this.#items.length) {
      this.#items = []
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
  }
}

const isGone = <T>(q: Queued<T>): boolean => q.gone

/**
 * Waiting messages of one client, by priority, FIFO within a priority.
 *
 * - `strict`: `pop` always takes from the highest priority that has messages.
 * - `weighted`: smooth weighted round-robin (nginx's) over the priorities that
 *   have messages, priority `p` weighing `p + 1`. Each priority's share of the
 *   hand-overs is its weight over the sum of the weights of those waiting: with
 *   9 and 0 waiting, 10 of every 11 go to 9 and 1 to 0; with 9, 5 and 0,
 *   10 : 6 : 1. So no waiting priority starves, and the share is fixed by the
 *   levels alone, not by how many messages each has.
 *
 * `popLowest` (the lowest priority, oldest) is the overflow victim.
 */
export class PriorityQueue<T> {
  readonly #buckets: Array<Fifo<Queued<T>>> = Array.from({ length: PRIORITY_LEVELS }, () => new Fifo<Queued<T>>())
  /** Live (not gone) items per priority. */
  readonly #counts = new Array<number>(PRIORITY_LEVELS).fill(0)
  /** Smooth weighted round-robin credit per priority. */
  readonly #credit = new Array<number>(PRIORITY_LEVELS).fill(0)
  readonly #mode: HandOverMode
  #size = 0

  constructor (mode: HandOverMode = 'strict') {
    this.#mode = mode
  }

  get size (): number {
    return this.#size
  }

  /** Queue `item` at `priority` (clamped to 0–9). */
  push (item: T, priority: number): Queued<T> {
    const p = clampPriority(priority)
    const queued: Queued<T> = { item, priority: p, gone: false }
    ;(this.#buckets[p] as Fifo<Queued<T>>).push(queued)
    this.#counts[p] = (this.#counts[p] as number) + 1
    this.#size++
    return queued
  }

  /** The next item to hand over, per the mode. */
  pop (): T | undefined {
    if (this.#size === 0) return undefined
    const p = this.#mode === 'strict' ? this.#highest() : this.#weighted()
    return this.#take(p)?.item
  }

  /** The lowest-priority, oldest item, taken out (the one to drop on overflow). */
  popLowest (): Queued<T> | undefined {
    if (this.#size === 0) return undefined
    for (let p = 0; p < PRIORITY_LEVELS; p++) {
      if ((this.#counts[p] as number) > 0) return this.#take(p)
    }
    return undefined
  }

  /** Take `queued` out wherever it is (O(1): it is skipped when reached). */
  remove (queued: Queued<T>): void {
    if (queued.gone) return
    queued.gone = true
    this.#counts[queued.priority] = (this.#counts[queued.priority] as number) - 1
    this.#size--
    if (this.#counts[queued.priority] === 0) this.#credit[queued.priority] = 0
  }

  /** Empty the queue; returns what it held, by priority (highest first), FIFO within. */
  drain (): T[] {
    const out: T[] = []
    for (let p = PRIORITY_LEVELS - 1; p >= 0; p--) {
      const bucket = this.#buckets[p] as Fifo<Queued<T>>
      for (const q of bucket.values()) if (!q.gone) out.push(q.item)
      bucket.clear()
      this.#counts[p] = 0
      this.#credit[p] = 0
    }
    this.#size = 0
    return out
  }

  #take (p: number): Queued<T> | undefined {
    const queued = (this.#buckets[p] as Fifo<Queued<T>>).shift(isGone)
    if (queued === undefined) return undefined
    queued.gone = true
    this.#counts[p] = (this.#counts[p] as number) - 1
    this.#size--
    if (this.#counts[p] === 0) this.#credit[p] = 0
    return queued
  }

  #highest (): number {
    for (let p = PRIORITY_LEVELS - 1; p > 0; p--) if ((this.#counts[p] as number) > 0) return p
    return 0
  }

  #weighted (): number {
    let total = 0
    let best = -1
    for (let p = PRIORITY_LEVELS - 1; p >= 0; p--) {
      if ((this.#counts[p] as number) === 0) continue
      const credit = (this.#credit[p] as number) + p + 1
      this.#credit[p] = credit
      total += p + 1
      if (best < 0 || credit > (this.#credit[best] as number)) best = p
    }
    this.#credit[best] = (this.#credit[best] as number) - total
    return best
  }
}

/** A priority as a bucket index: integers 0–9; anything else is clamped or floored. */
export function clampPriority (priority: number): number {
  if (!Number.isFinite(priority)) return 0
  return Math.min(PRIORITY_LEVELS - 1, Math.max(0, Math.floor(priority)))
}
