import { stat } from 'node:fs/promises'
import Datastore from 'nedb-promises'
import type { Logger } from 'pino'
import { escapeLineBreaks, type StoreDoc } from './codec.js'
import { checkDatafile, cutTornTail, looksLikeDocument } from './integrity.js'
import type { BatchSink } from './write-batcher.js'

/** What nedb-promises forwards to @seald-io/nedb through its proxy, beyond its typings. */
type NedbStore = ReturnType<typeof Datastore.create> & { compactDatafileAsync(): Promise<void>, getAllData(): unknown[] }

/**
 * nedb appends every change; only compaction gives the space back. Besides the
 * timer, compact once the lines appended since the last compaction outnumber
 * the live documents this many times (and are at least `GROWTH_MIN_LINES`):
 * under load the file would otherwise grow by ~40 lines per delivered message
 * between two timed compactions (the benchmark wrote 56 MB in 20 s).
 */
const GROWTH_FACTOR = 4
const GROWTH_MIN_LINES = 100_000

/**
 * The nedb datafile: checked before it loads, appended to in batches,
 * compacted on demand and when it has grown too far past its live data.
 * `filename` undefined: nedb `inMemoryOnly`, nothing touches the disk.
 */
export class Datafile {
  readonly filename: string | undefined
  readonly #db: NedbStore
  readonly #log: Logger
  /** Documents in the file that are live (what compaction keeps). */
  #live = 0
  /** Lines appended since the last compaction. */
  #appended = 0
  #compacting: Promise<void> | undefined
  #closed = false

  constructor (filename: string | undefined, log: Logger) {
    this.filename = filename
    this.#log = log
    this.#db = Datastore.create({
      filename,
      inMemoryOnly: filename === undefined,
      // Any bad line fails the load; checkDatafile then says which.
      corruptAlertThreshold: 0,
      afterSerialization: escapeLineBreaks,
      // nedb skips valid JSON that is not a document without a word; counted
      // as corrupt instead, it fails the load before nedb rewrites the file
      beforeDeserialization: (line) => {
        if (!looksLikeDocument(line)) throw new Error('not a document')
        return line
      },
    }) as NedbStore
  }

  /** Where write batches go. */
  readonly sink: BatchSink<StoreDoc> = {
    insert: (docs) => this.#db.insert(docs),
    remove: (ids) => this.#db.remove({ _id: { $in: ids } }, { multi: true }),
  }

  /**
   * Checks the file (a torn last line is cut off and reported; damage throws
   * `StoreCorruptError`), loads it (nedb compacts while loading) and returns
   * every document.
   */
  async load (): Promise<readonly StoreDoc[]> {
    const filename = this.filename
    if (filename !== undefined) {
      const report = await cutTornTail(filename)
      if (report?.tornTail !== undefined) {
        this.#log.warn({ file: report.file, line: report.tornTail.line, bytes: report.tornTail.bytes },
          'session store: cut off an incomplete last line (a write interrupted by a crash; it was never acknowledged)')
      }
    }
    try {
      await this.#db.load()
    } catch (err) {
      // nedb refused a line it could not parse: the full scan names it (and throws StoreCorruptError)
      if (filename !== undefined) await checkDatafile(filename)
      throw err
    }
    // nedb's own documents, not copies (find() deep-copies each): read-only from here on
    const docs = this.#db.getAllData() as StoreDoc[]
    this.#live = docs.length
    return docs
  }

  /**
   * Rewrites the file with live documents only (nedb's crash-safe rewrite,
   * queued behind the writes already handed to nedb). One at a time.
   */
  compact (): Promise<void> {
    if (this.filename === undefined || this.#closed) return Promise.resolve()
    this.#compacting ??= (async () => {
      const started = Date.now()
      const appended = this.#appended
      try {
        await this.#db.compactDatafileAsync()
        this.#appended -= appended
        this.#log.debug({ file: this.filename, ms: Date.now() - started, live: this.#live, dropped: appended }, 'session store compacted')
      } finally {
        this.#compacting = undefined
      }
    })()
    return this.#compacting
  }

  /** After each batch: count lines, and compact when the file has grown too far past its live data. */
  written (inserted: number, removed: number): void {
    this.#live += inserted - removed
    this.#appended += inserted + removed
    if (this.#compacting !== undefined || this.filename === undefined || this.#appended < Math.max(GROWTH_MIN_LINES, GROWTH_FACTOR * this.#live)) return
    this.compact().catch((err: unknown) => this.#log.error({ err, file: this.filename }, 'session store compaction failed'))
  }

  /** Bytes on disk now (nedb rewrites through `<file>~`; between its steps only that may exist). */
  async size (): Promise<number> {
    if (this.filename === undefined) return 0
    for (const file of [this.filename, this.filename + '~']) {
      try {
        return (await stat(file)).size
      } catch {}
    }
    return 0
  }

  /** No more compactions; waits for a running one. */
  async close (): Promise<void> {
    this.#closed = true
    await this.#compacting
  }
}
