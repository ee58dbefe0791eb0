/**
 * Coalesces the PUBLISHes written to one connection in one turn of the event
 * loop into one socket write.
 *
 * aedes writes every delivery from its own `setImmediate`, and mqtt-packet
 * corks the stream only until the next tick, so each delivery is a `writev`
 * of its own: a syscall, and a wake-up of the reader. That is most of a
 * broker's CPU in fan-in, where one subscriber gets a message from every
 * publisher's read. Here the `authorizeForward` slot corks the stream from
 * the moment a delivery is decided until an immediate queued behind aedes's
 * write of it, so the deliveries decided in one job (the publishes parsed
 * from one chunk, the inflight window's hand-overs on a chunk of PUBACKs)
 * and in every later job of the same poll phase (the other publishers'
 * reads) share one `writev`.
 *
 * Each job queues its flush behind aedes's writes of its own deliveries, and
 * a stream is uncorked by the flush of the last job that wrote to it, so
 * never before a write it holds and never left corked. A delivery waits for
 * the later deliveries of the same turn, for MAX_CORKED_MS at most, and never
 * past the stream's high-water mark. One microtask per job, and one
 * immediate per job that wrote anything, serve every stream.
 */
import type { Writable } from 'node:stream'

const resolved = Promise.resolve()

/**
 * How long a stream holds writes for later jobs at most. A flush passes a
 * stream over when a later job also wrote to it, but that job's flush may be
 * a turn away: aedes decides QoS 0 and 2 deliveries in the read job (poll
 * phase) and QoS 1 ones in an immediate (check phase), so with both kinds
 * arriving every flush could find a later job, turn after turn. Past this, a
 * flush writes what the stream holds and corks it again for the later job,
 * whose flush uncorks it. (Uncorking it for good let every delivery still to
 * come from the jobs already decided go out in a write of its own: in a QoS 0
 * fan-out of 64 KiB reads, ~1,000 messages a read, aedes emits 100 messages
 * at a time and a wave of writes outlasts 1 ms, so 259,900 of 260,400 writes
 * carried one message.)
 */
const MAX_CORKED_MS = 1

class Held {
  corked = false
  /** When it was corked (`now()`). */
  corkedAt = 0
  /** The last job that decided a delivery to this stream: only its flush uncorks. */
  job = 0

  constructor (readonly stream: Writable) {}
}

export class WriteBatches {
  readonly #held = new WeakMap<Writable, Held>()
  readonly #now: () => number
  /** Streams written to in the current job. */
  #batch: Held[] = []
  #job = 1
  #scheduled = false

  /** `now`: milliseconds on a monotonic clock (tests pass their own). */
  constructor (now: () => number = () => performance.now()) {
    this.#now = now
  }

  /** Runs as a microtask, so after aedes queued the writes of the deliveries decided in this job. */
  readonly #schedule = (): void => {
    setImmediate(this.#flush, this.#batch, this.#job)
    this.#batch = []
    this.#job++
    this.#scheduled = false
  }

  readonly #flush = (batch: readonly Held[], job: number): void => {
    let now: number | undefined
    for (const held of batch) {
      if (!held.corked) continue
      if (held.job !== job) {
        if ((now ??= this.#now()) - held.corkedAt < MAX_CORKED_MS) continue
        held.stream.uncork()
        held.stream.cork()
        held.corkedAt = now
        continue
      }
      held.corked = false
      held.stream.uncork()
    }
  }

  /** A PUBLISH to `stream` is decided and aedes writes it next: hold the stream corked until it is written. */
  hold (stream: Writable): void {
    let held = this.#held.get(stream)
    if (held === undefined) {
      held = new Held(stream)
      this.#held.set(stream, held)
    }
    if (held.job !== this.#job) {
      held.job = this.#job
      this.#batch.push(held)
    }
    if (!held.corked) {
      held.corked = true
      held.corkedAt = this.#now()
      stream.cork()
    } else if (stream.writableLength >= stream.writableHighWaterMark) {
      // A full buffer: write what it holds now rather than have aedes wait for 'drain' while corked.
      stream.uncork()
      stream.cork()
    }
    if (!this.#scheduled) {
      this.#scheduled = true
      resolved.then(this.#schedule)
    }
  }
}
