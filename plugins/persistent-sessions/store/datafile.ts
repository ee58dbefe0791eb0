import { open, rename, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import Datastore from 'nedb-promises'
import type { Logger } from 'pino'
import { errorReason } from '../../../src/core/line-throttle.js'
import { BrokerError } from '../../../src/errors.js'
import { escapeLineBreaks, type StoreDoc } from './codec.js'
import { lockDatafile } from './dir-lock.js'
import { StoreCorruptError, StoreUnavailableError } from './errors.js'
import { checkDatafile, cutTornTail, looksLikeDocument } from './integrity.js'
import type { BatchSink } from './write-batcher.js'

/** What nedb-promises forwards to @seald-io/nedb through its proxy, beyond its typings. */
type NedbStore = ReturnType<typeof Datastore.create> & { getAllData(): unknown[] }

/**
 * nedb appends every change; only compaction gives the space back. Besides the
 * timer, compact once the lines appended since the last compaction outnumber
 * the live documents this many times (and are at least `GROWTH_MIN_LINES`):
 * under load the file would otherwise grow by several lines per delivered
 * message between two timed compactions.
 */
const GROWTH_FACTOR = 4
const GROWTH_MIN_LINES = 100_000

/** How long a failed append says the store cannot write (see `writeFailure`). */
export const FAILURE_FRESH_MS = 30_000
/** An outage is over once a write has worked and no write failed for this long (see `#recovered`). */
const RECOVERY_QUIET_MS = 5_000

/**
 * The datafile, in nedb's format: one JSON document per line, a removal as
 * `{"$$deleted":true,"_id":…}`, the last line for an `_id` wins.
 *
 * nedb-promises checks and loads it (and compacts it while loading). From
 * then on midge appends to it itself, through one file handle kept open, one
 * write per batch: nedb's own insert/remove keeps a second, indexed copy of
 * every document in memory, deep-copies and matches each one, and opens and
 * closes the file per append — most of the CPU a delivery cost (profiled on a
 * 20k-message backlog drain), for a copy midge never reads (the session state
 * is its own index). What compaction needs of that copy is the current line
 * of each live document, kept here by `_id`. A compaction writes them the way
 * nedb does (a `~` copy, flushed, renamed over the file, directory flushed),
 * so nedb's load still finds a whole file after a crash at any step.
 *
 * `filename` undefined: in memory only, nothing touches the disk.
 */
export class Datafile {
  readonly filename: string | undefined
  readonly #log: Logger
  /** The file's live documents by `_id`: as loaded, or the line written. */
  readonly #live = new Map<string, StoreDoc | string>()
  /** Lines appended since the last compaction. */
  #appended = 0
  #handle: FileHandle | undefined
  /** Bytes of whole lines in the file: where a failed append is cut back to. */
  #size = 0
  /** The write error being reported (logged once, until a write works again). */
  #failing: string | undefined
  /** Appends and compactions, one at a time, in order. */
  #queue: Promise<void> = Promise.resolve()
  #compacting: Promise<void> | undefined
  #closed = false
  /** Releases `<file>.lock` (see dir-lock.ts). */
  #unlock: (() => Promise<void>) | undefined

  /** When an append last failed (`now()`). */
  #failedAt = 0
  /** Whether an append worked after the last failure. */
  #workedSinceFailure = false
  /** Ends an outage when its quiet time is over, if no write comes to. */
  #recoveryTimer: NodeJS.Timeout | undefined
  /** Writes failed in the current outage. */
  #failedWrites = 0
  #compactionFailures = 0
  readonly #now: () => number

  constructor (filename: string | undefined, log: Logger, now: () => number = Date.now) {
    this.filename = filename
    this.#log = log
    this.#now = now
  }

  /**
   * Why appends fail (an errno code such as ENOSPC), undefined while they
   * work. Only a recent failure counts: failed batches are not retried, so on
   * an idle broker no write would ever clear it after the disk recovered, and
   * `/ready` would stay degraded with nothing wrong.
   */
  get writeFailure (): string | undefined {
    this.#recovered()
    return this.#failing !== undefined && this.#now() - this.#failedAt < FAILURE_FRESH_MS ? this.#failing : undefined
  }

  /** Compactions that failed since start: the file grows until one works. */
  get compactionFailures (): number {
    return this.#compactionFailures
  }

  /** Where write batches go: documents first, then removals, in one append. */
  readonly sink: BatchSink<StoreDoc> = {
    write: (docs, removed) => this.#append(docs, removed),
  }

  /**
   * Checks the file (a torn last line is cut off and reported; damage throws
   * `StoreCorruptError`), loads it with nedb (which compacts it) and returns
   * every document, then keeps the file open for appends.
   */
  async load (): Promise<readonly StoreDoc[]> {
    const filename = this.filename
    if (filename === undefined) return []
    try {
      this.#unlock = await lockDatafile(filename)
      return await this.#load(filename)
    } catch (err) {
      await this.#unlock?.()
      this.#unlock = undefined
      if (err instanceof BrokerError) throw err
      const { code, syscall } = err as NodeJS.ErrnoException
      // the data directory or file cannot be used (a file in the way, read-only, full, no permission)
      if (typeof code === 'string') throw new StoreUnavailableError(`session store ${filename}: cannot open it: ${code}${syscall !== undefined ? ` (${syscall})` : ''}`, { cause: err })
      // a line nedb refused that checkDatafile let through (e.g. an index record breaking its own constraint)
      throw new StoreCorruptError(filename, 0, (err as Error).message ?? String(err), { cause: err })
    }
  }

  async #load (filename: string): Promise<readonly StoreDoc[]> {
    const report = await cutTornTail(filename)
    if (report?.tornTail !== undefined) {
      this.#log.warn({ file: report.file, line: report.tornTail.line, bytes: report.tornTail.bytes },
        'session store: cut off an incomplete last line (a write interrupted by a crash; it was never acknowledged)')
    }
    const db = Datastore.create({
      filename,
      // Any bad line fails the load; checkDatafile then says which.
      corruptAlertThreshold: 0,
      // nedb rewrites the file while loading: it must escape what midge escapes (see escapeLineBreaks)
      afterSerialization: escapeLineBreaks,
      // nedb skips valid JSON that is not a document without a word; counted
      // as corrupt instead, it fails the load before nedb rewrites the file
      beforeDeserialization: (line) => {
        if (!looksLikeDocument(line)) throw new Error('not a document')
        return line
      },
    }) as NedbStore
    try {
      await db.load()
    } catch (err) {
      // nedb refused a line it could not parse: the full scan names it (and throws StoreCorruptError)
      await checkDatafile(filename)
      throw err
    }
    // nedb's own documents, not copies (find() deep-copies each); nedb itself is not used again
    const docs = db.getAllData() as StoreDoc[]
    for (const doc of docs) this.#live.set(doc._id, doc)
    this.#handle = await open(filename, 'a')
    this.#size = (await this.#handle.stat()).size
    return docs
  }

  /** Rewrites the file with its live documents only. One at a time, queued behind the appends before it. */
  compact (): Promise<void> {
    if (this.filename === undefined || this.#closed) return Promise.resolve()
    this.#compacting ??= this.#enqueue(() => this.#rewrite())
      .catch((err: unknown) => { this.#compactionFailures++; throw err })
      .finally(() => { this.#compacting = undefined })
    return this.#compacting
  }

  /** Bytes on disk now (a compaction renames `<file>~` over the file; between its steps only that may exist). */
  async size (): Promise<number> {
    if (this.filename === undefined) return 0
    for (const file of [this.filename, this.filename + '~']) {
      try {
        return (await stat(file)).size
      } catch {}
    }
    return 0
  }

  /** Waits for the appends and a compaction under way, then closes the file. */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#recoveryTimer)
    await this.#enqueue(async () => {
      await this.#handle?.close()
      this.#handle = undefined
    })
    await this.#unlock?.()
    this.#unlock = undefined
  }

  #append (docs: readonly StoreDoc[], removed: readonly string[]): Promise<void> {
    if (this.filename === undefined) return Promise.resolve()
    let text = ''
    for (const doc of docs) {
      const line = escapeLineBreaks(JSON.stringify(doc))
      this.#live.set(doc._id, line)
      text += line + '\n'
    }
    for (const id of removed) {
      this.#live.delete(id)
      text += `{"$$deleted":true,"_id":${JSON.stringify(id)}}\n`
    }
    if (text === '') return this.#queue
    const lines = docs.length + removed.length
    const written = this.#enqueue(async () => {
      const bytes = Buffer.from(text)
      const handle = await this.#reopened()
      try {
        await handle.appendFile(bytes)
      } catch (err) {
        await this.#cutBack(handle)
        this.#reportFailure(err)
        throw err
      }
      this.#size += bytes.length
      if (this.#failing !== undefined) {
        this.#workedSinceFailure = true
        this.#recovered()
      }
    })
    return written.then(() => this.#grown(lines))
  }

  /** The file to append to; opened again if a compaction could not reopen it (a failure reported as a write's). */
  async #reopened (): Promise<FileHandle> {
    if (this.#handle !== undefined) return this.#handle
    if (this.#closed || this.filename === undefined) throw new Error(`session store ${this.filename ?? ''}: not open`)
    try {
      this.#handle = await open(this.filename, 'a')
      return this.#handle
    } catch (err) {
      this.#reportFailure(err)
      throw err
    }
  }

  /**
   * A write that failed part way (ENOSPC, EFBIG) left part of a line at the
   * end: cut it off, or the next append would glue onto it and make a line in
   * the middle of the file that no restart can read.
   */
  async #cutBack (handle: FileHandle): Promise<void> {
    try {
      await handle.truncate(this.#size)
    } catch (err) {
      // the next start cuts a torn last line off itself; only a later append would glue onto it
      this.#log.error({ err, file: this.filename }, 'session store: could not cut a failed write off the file')
    }
  }

  /**
   * Ends the outage once a write has worked since the last failure, and that failure is
   * RECOVERY_QUIET_MS old; else, after a write that worked, looks again when it would be.
   * Not at the first write that fits: on a nearly full disk small writes fit between failing big
   * ones, and the outage was logged as over and begun again several times a second.
   */
  #recovered (): void {
    if (this.#failing === undefined || !this.#workedSinceFailure) return
    const quietFor = this.#now() - this.#failedAt
    if (quietFor < RECOVERY_QUIET_MS) {
      if (this.#recoveryTimer === undefined && !this.#closed) {
        this.#recoveryTimer = setTimeout(() => { this.#recoveryTimer = undefined; this.#recovered() }, RECOVERY_QUIET_MS - quietFor)
        this.#recoveryTimer.unref()
      }
      return
    }
    this.#log.warn({ file: this.filename, was: this.#failing, failedWrites: this.#failedWrites }, 'session store writes work again')
    this.#failing = undefined
    this.#failedWrites = 0
  }

  /** Once per outage: every batch of it fails the same way, and each caller is told. */
  #reportFailure (err: unknown): void {
    const reason = errorReason(err)
    this.#recovered() // the last outage may be over, with no write or read since to say so
    this.#failedAt = this.#now()
    this.#workedSinceFailure = false
    this.#failedWrites++
    if (this.#failing !== undefined) return
    this.#failing = reason
    this.#log.error({ err, file: this.filename }, 'session store write failed: QoS 1/2 publishes for persistent sessions are not acknowledged until writes work again')
  }

  /** Compacts when the file has grown too far past its live data. */
  #grown (lines: number): void {
    this.#appended += lines
    if (this.#compacting !== undefined || this.#closed || this.#appended < Math.max(GROWTH_MIN_LINES, GROWTH_FACTOR * this.#live.size)) return
    this.compact().catch((err: unknown) => this.#log.error({ err, file: this.filename }, 'session store compaction failed'))
  }

  /** nedb's crash-safe rewrite (storage.crashSafeWriteFileLines): a flushed `~` copy renamed over the file. */
  async #rewrite (): Promise<void> {
    const filename = this.filename
    if (filename === undefined || this.#handle === undefined) return
    const started = Date.now()
    const dropped = this.#appended
    const temp = filename + '~'
    const copy = await open(temp, 'w')
    let size = 0
    try {
      let chunk = ''
      const flush = async (): Promise<void> => {
        const bytes = Buffer.from(chunk)
        await copy.writeFile(bytes)
        size += bytes.length
        chunk = ''
      }
      for (const value of this.#live.values()) {
        chunk += (typeof value === 'string' ? value : escapeLineBreaks(JSON.stringify(value))) + '\n'
        if (chunk.length >= 1 << 20) await flush()
      }
      if (chunk !== '') await flush()
      await copy.sync()
    } finally {
      await copy.close()
    }
    await this.#handle.sync()
    await this.#handle.close()
    this.#handle = undefined
    // Reopened whatever fails here: without a handle every later append failed, unreported, until a restart.
    try {
      await rename(temp, filename)
      this.#size = size
      this.#appended = 0
      await syncDir(dirname(filename))
    } finally {
      this.#handle = await open(filename, 'a')
    }
    this.#log.debug({ file: filename, ms: Date.now() - started, live: this.#live.size, dropped }, 'session store compacted')
  }

  #enqueue (step: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(step)
    // a failed step is reported to its caller; the next ones still run
    this.#queue = run.catch(() => {})
    return run
  }
}

async function syncDir (dir: string): Promise<void> {
  // as nedb's flushToStorage: a directory cannot be opened for fsync on Windows
  if (process.platform === 'win32') return
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
