/**
 * Coalesces the PUBLISHes written to one connection in one turn of the event
 * loop into one socket write.
 *
 * aedes writes every delivery from its own `setImmediate`, and mqtt-packet
 * corks the stream only until the next tick, so each delivery is a `writev`
 * of its own (a syscall, and a wake-up of the reader). Here the
 * `authorizeForward` slot holds the stream corked from the moment a delivery
 * is decided until an immediate queued behind aedes's write of it: every
 * delivery decided in the same job (the publishes parsed from one chunk, the
 * inflight window's hand-overs on a chunk of PUBACKs) shares one `writev`.
 *
 * Nothing waits longer than before: the flush runs in the same check phase as
 * the writes it covers. A flush releases every cork taken on its streams so
 * far, so a delivery decided after its flush was queued is written as
 * before, on its own, and a stream is never left corked. A stream with a
 * single delivery in a job is not corked at all; one microtask per job, and
 * one immediate per job that corked anything, serve every stream.
 */
import type { Writable } from 'node:stream'

const resolved = Promise.resolve()

class Held {
  /** Corks taken on the stream and not yet released. */
  corks = 0
  /** The batch (job) that last held this stream, and how many deliveries it held. */
  batch = 0
  holds = 0

  constructor (readonly stream: Writable) {}
}

function flush (batch: readonly Held[]): void {
  for (const held of batch) {
    for (; held.corks > 0; held.corks--) held.stream.uncork()
  }
}

export class WriteBatches {
  readonly #held = new WeakMap<Writable, Held>()
  /** Streams corked in the current job, flushed together. */
  #batch: Held[] = []
  #batchNumber = 1
  #scheduled = false

  /** Runs as a microtask, so after aedes queued the writes of the deliveries decided in this job. */
  readonly #schedule = (): void => {
    if (this.#batch.length > 0) setImmediate(flush, this.#batch)
    this.#batch = []
    this.#batchNumber++
    this.#scheduled = false
  }

  /** A PUBLISH to `stream` is decided and aedes writes it next: hold the stream corked until it is written. */
  hold (stream: Writable): void {
    let held = this.#held.get(stream)
    if (held === undefined) {
      held = new Held(stream)
      this.#held.set(stream, held)
    }
    if (held.batch !== this.#batchNumber) {
      // A lone delivery needs no cork: its write is one `writev` anyway. Corking at the second
      // still covers the first, whose write has not run yet (aedes writes from an immediate).
      held.batch = this.#batchNumber
      held.holds = 1
    } else if (++held.holds === 2) {
      stream.cork()
      held.corks++
      this.#batch.push(held)
    }
    if (!this.#scheduled) {
      this.#scheduled = true
      resolved.then(this.#schedule)
    }
  }
}
