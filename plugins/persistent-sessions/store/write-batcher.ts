/**
 * Group commit for the nedb datafile.
 *
 * nedb appends (and awaits) one write per call, and aedes makes several store
 * calls per message per subscriber. Instead of one append each, every put and
 * delete requested during one event-loop turn goes out as ONE `insert([...])`
 * and one `remove({ _id: { $in } })`, and every caller's promise resolves after
 * both are on disk. While a batch is being written the next one collects, so
 * under load a batch grows to whatever arrived during the previous write.
 *
 * Order inside a batch: inserts first, then removals. A crash between the two
 * leaves old versions next to new ones (resolved at load by `_id` order), never
 * a record removed without its replacement.
 */

/** Where batches go: the datastore, or a fake in tests. */
export interface BatchSink<Doc extends { _id: string }> {
  insert(docs: Doc[]): Promise<unknown>
  remove(ids: string[]): Promise<unknown>
}

/** Counters for benchmarks and logs. */
export interface BatchStats {
  /** Batches written. */
  batches: number
  /** Documents inserted. */
  inserted: number
  /** Documents removed. */
  removed: number
  /** Puts that were deleted again before they reached the disk. */
  cancelled: number
}

/**
 * nedb checks every candidate against the whole `$in` list (model.js
 * `$in`), so one removal of k ids costs O(k²). Chunks keep that flat while
 * still costing one append per 256 ids.
 */
const REMOVE_CHUNK = 256

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

export class WriteBatcher<Doc extends { _id: string }> {
  readonly #sink: BatchSink<Doc>
  readonly #onError: (err: unknown) => void
  /** Pending puts by id, in request order (a Map keeps insertion order). */
  #puts = new Map<string, Doc>()
  #dels: string[] = []
  /** Removals nobody waits for (see `del`): written after the batch's callers are released. */
  #lazyDels: string[] = []
  #waiters: Waiter[] = []
  #scheduled = false
  /** The batch being written, if any. */
  #writing: Promise<void> | undefined
  readonly stats: BatchStats = { batches: 0, inserted: 0, removed: 0, cancelled: 0 }

  readonly #onBatch: (inserted: number, removed: number) => void

  /**
   * @param onError told about a failed batch (its callers are rejected too)
   * @param onBatch told after each batch is on disk, with its size
   */
  constructor (sink: BatchSink<Doc>, onError: (err: unknown) => void, onBatch: (inserted: number, removed: number) => void = () => {}) {
    this.#sink = sink
    this.#onError = onError
    this.#onBatch = onBatch
  }

  /** Queues a document for insertion in the next batch. */
  put (doc: Doc): void {
    this.#puts.set(doc._id, doc)
  }

  /**
   * Queues a removal. A document still waiting in the pending batch is simply
   * dropped from it: it never reaches the disk, so there is nothing to remove.
   *
   * `lazy`: the removal may reach the disk after the batch's callers are told
   * their changes are there (an ack's removal, the old version of a record a
   * newer version replaces: lost in a crash, it only means a redelivery, or an
   * obsolete line the next load drops). It goes out in the same write cycle,
   * after the callers are released, so it is off their path.
   */
  del (id: string, lazy = false): void {
    if (this.#puts.delete(id)) {
      this.stats.cancelled++
      return
    }
    if (lazy) this.#lazyDels.push(id)
    else this.#dels.push(id)
  }

  /** Resolves once everything queued so far is in the datafile. */
  commit (): Promise<void> {
    if (this.#puts.size === 0 && this.#dels.length === 0) {
      // Nothing of ours is pending; a batch being written may still hold
      // earlier work of the caller, so wait for it (cheap: it is in flight).
      return this.#writing ?? Promise.resolve()
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#schedule()
    })
  }

  /**
   * Writes what is queued in the next batch without waiting for it: for
   * changes whose loss in a crash only means a redelivery (an ack's removal,
   * a QoS 1 packet id), so the caller need not hold the message flow for the
   * disk. A failure is still reported to `onError`; a later `commit()` covers
   * these changes too, since batches are written in order.
   */
  flush (): void {
    if (this.#pending()) this.#schedule()
  }

  /** Writes everything pending and waits until the sink is idle. */
  async drain (): Promise<void> {
    while (this.#pending() || this.#writing !== undefined) {
      if (this.#writing === undefined) this.#schedule()
      await (this.#writing ?? new Promise<void>((resolve) => setImmediate(resolve)))
    }
  }

  #pending (): boolean {
    return this.#puts.size > 0 || this.#dels.length > 0 || this.#lazyDels.length > 0
  }

  #schedule (): void {
    if (this.#scheduled || this.#writing !== undefined) return
    this.#scheduled = true
    // setImmediate, not nextTick: wait for the rest of this turn's I/O
    // callbacks and microtasks, so one batch covers all of them.
    setImmediate(() => {
      this.#scheduled = false
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined
        if (this.#waiters.length > 0 || this.#pending()) this.#schedule()
      })
    })
  }

  async #write (): Promise<void> {
    const puts = [...this.#puts.values()]
    const dels = this.#dels
    const lazy = this.#lazyDels
    const waiters = this.#waiters
    this.#puts = new Map()
    this.#dels = []
    this.#lazyDels = []
    this.#waiters = []
    let released = false
    try {
      if (puts.length > 0) await this.#sink.insert(puts)
      await this.#remove(dels)
      released = true
      for (const w of waiters) w.resolve()
      await this.#remove(lazy)
      this.stats.batches++
      this.stats.inserted += puts.length
      this.stats.removed += dels.length + lazy.length
      this.#onBatch(puts.length, dels.length + lazy.length)
    } catch (err) {
      this.#onError(err)
      if (!released) for (const w of waiters) w.reject(err)
    }
  }

  async #remove (ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += REMOVE_CHUNK) {
      await this.#sink.remove(ids.slice(i, i + REMOVE_CHUNK))
    }
  }
}
