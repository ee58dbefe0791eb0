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
 * never before a write it holds and never left corked; a delivery waits for
 * at most the later deliveries of the same turn (bounded, see
 * MAX_PASSED_OVER). One microtask per job, and one immediate per job that
 * wrote anything, serve every stream.
 */
import type { Writable } from 'node:stream'

const resolved = Promise.resolve()

/**
 * A stream that gets deliveries in every job, with flushes in between, would
 * stay corked for good: after this many flushes passed it over it is
 * uncorked anyway (the deliveries still to be written then go out on their own).
 */
const MAX_PASSED_OVER = 64

class Held {
  corked = false
  /** The last job that decided a delivery to this stream: only its flush uncorks. */
  job = 0
  passedOver = 0

  constructor (readonly stream: Writable) {}
}

function flush (batch: readonly Held[], job: number): void {
  for (const held of batch) {
    if (!held.corked || (held.job !== job && ++held.passedOver < MAX_PASSED_OVER)) continue
    held.corked = false
    held.passedOver = 0
    held.stream.uncork()
  }
}

export class WriteBatches {
  readonly #held = new WeakMap<Writable, Held>()
  /** Streams written to in the current job. */
  #batch: Held[] = []
  #job = 1
  #scheduled = false

  /** Runs as a microtask, so after aedes queued the writes of the deliveries decided in this job. */
  readonly #schedule = (): void => {
    setImmediate(flush, this.#batch, this.#job)
    this.#batch = []
    this.#job++
    this.#scheduled = false
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
      stream.cork()
    }
    if (!this.#scheduled) {
      this.#scheduled = true
      resolved.then(this.#schedule)
    }
  }
}
