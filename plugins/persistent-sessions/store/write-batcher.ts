/**
 * Group commit for the datafile.
 *
 * aedes makes several store calls per message per subscriber. Instead of one
 * append each, every put and delete requested during one event-loop turn goes
 * out as ONE append (`BatchSink.write`), and every caller's promise resolves
 * once it is in the file. While a batch is being written the next one
 * collects, so under load a batch grows to whatever arrived during the
 * previous write.
 *
 * Order inside a batch: documents first, then removals. A crash in the middle
 * of the append leaves old versions next to new ones (resolved at load by
 * `_id` order), never a record removed without its replacement.
 */

/** Where batches go: the datafile, or a fake in tests. */
export interface BatchSink<Doc extends { _id: string }> {
  /** Appends `docs`, then the removals of `removed`; resolves once both are in the file. */
  write(docs: readonly Doc[], removed: readonly string[]): Promise<unknown>
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

interface Waiter { resolve: () => void, reject: (err: unknown) => void }

/**
 * How long changes nobody waits for (`flush`) may collect before they are
 * written. A backlog drain acknowledges ~20 messages per round trip; writing
 * each round's removals on its own cost an append (a thread-pool round trip)
 * per round. Lost in a crash, these only mean redeliveries.
 */
const FLUSH_DELAY_MS = 10

export class WriteBatcher<Doc extends { _id: string }> {
  readonly #sink: BatchSink<Doc>
  readonly #onError: (err: unknown) => void
  /** Pending puts by id, in request order (a Map keeps insertion order). */
  #puts = new Map<string, Doc>()
  #dels: string[] = []
  #waiters: Waiter[] = []
  #scheduled = false
  /** A deferred write of changes nobody waits for (see `flush`). */
  #deferred: NodeJS.Timeout | undefined
  /** The batch being written, if any. */
  #writing: Promise<void> | undefined
  readonly stats: BatchStats = { batches: 0, inserted: 0, removed: 0, cancelled: 0 }

  /** @param onError told about a failed batch (its callers are rejected too) */
  constructor (sink: BatchSink<Doc>, onError: (err: unknown) => void) {
    this.#sink = sink
    this.#onError = onError
  }

  /** Queues a document for insertion in the next batch. */
  put (doc: Doc): void {
    this.#puts.set(doc._id, doc)
  }

  /**
   * Queues a removal. A document still waiting in the pending batch is simply
   * dropped from it: it never reaches the disk, so there is nothing to remove.
   */
  del (id: string): void {
    if (this.#puts.delete(id)) {
      this.stats.cancelled++
      return
    }
    this.#dels.push(id)
  }

  /** Resolves once everything queued so far is in the datafile. */
  commit (): Promise<void> {
    if (!this.#pending()) {
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
   * Writes what is queued soon, without waiting for it: for changes whose
   * loss in a crash only means a redelivery (an ack's removal), so the caller
   * need not hold the message flow for the disk. They go with the next batch
   * someone commits, or at the latest `FLUSH_DELAY_MS` from now. A failure is
   * still reported to `onError`; a later `commit()` covers these changes too,
   * since batches are written in order.
   */
  flush (): void {
    if (this.#deferred !== undefined || !this.#pending()) return
    this.#deferred = setTimeout(() => {
      this.#deferred = undefined
      if (this.#pending()) this.#schedule()
    }, FLUSH_DELAY_MS)
    this.#deferred.unref()
  }

  /** Writes everything pending and waits until the sink is idle. */
  async drain (): Promise<void> {
    clearTimeout(this.#deferred)
    this.#deferred = undefined
    while (this.#pending() || this.#writing !== undefined) {
      if (this.#writing === undefined) this.#schedule()
      await (this.#writing ?? new Promise<void>((resolve) => setImmediate(resolve)))
    }
  }

  #pending (): boolean {
    return this.#puts.size > 0 || this.#dels.length > 0
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
        if (this.#waiters.length > 0) this.#schedule()
        else this.flush()
      })
    })
  }

  async #write (): Promise<void> {
    const puts = [...this.#puts.values()]
    const dels = this.#dels
    const waiters = this.#waiters
    this.#puts = new Map()
    this.#dels = []
    this.#waiters = []
    try {
      await this.#sink.write(puts, dels)
    } catch (err) {
      this.#onError(err)
      for (const w of waiters) w.reject(err)
      return
    }
    this.stats.batches++
    this.stats.inserted += puts.length
    this.stats.removed += dels.length
    for (const w of waiters) w.resolve()
  }
}
