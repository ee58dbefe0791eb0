/**
 * A reader that has stopped reading does not hold up its publishers.
 *
 * aedes completes a delivery only once it is written, and when the socket's
 * buffer is full that means once the socket drains (lib/write.js
 * `waitForDrain`); a publish is routed only when every delivery of it is
 * complete, and the publisher's next packets wait for that. That is the right
 * backpressure for a reader that is merely slower than its publishers. But one
 * that stopped reading — a device gone quiet behind a NAT, a stuck consumer —
 * held up every publisher to its topics, and the embedding API's `publish()`,
 * until `limits.drainTimeoutMs` (60 s) closed it.
 *
 * So a client whose output has made no progress for `stallMs` while
 * deliveries wait on it is *stalled*: the waiting deliveries complete, later
 * writes do not wait, and hook-slots drops the live QoS 0 messages meant for
 * it (reported, reason `slow_consumer`) until its socket drains. Progress is
 * the buffers (the stream's and libuv's) holding less than at their peak since
 * the last look: a reader that is only slow keeps taking some and is never
 * stalled. While stalled:
 * - retained messages sent on SUBSCRIBE wait for the socket as in aedes (they
 *   hold up no publisher, and each SUBSCRIBE would buffer the set again);
 * - QoS 1/2 deliveries are bounded by the inflight window; without one, a
 *   stalled client holding more than `STALLED_BUFFER_LIMIT` is closed.
 * `drainTimeoutMs` still closes a client that never reads again.
 */
import type { Writable } from 'node:stream'

/** What this uses of an aedes 1.2 Client (not in its public types). */
export interface SlowReader {
  readonly conn: Writable & { _handle?: { writeQueueSize?: number } | null }
  deliver0(packet: { brokerId?: string | null }, done: () => void): void
  waitForDrain(done: () => void): void
  close(): void
}

/** A stalled client buffering more than this is closed (only reachable without the inflight window). */
export const STALLED_BUFFER_LIMIT = 8 * 1024 * 1024

/** A client's waits for its socket, from the first delivery that waited on: most connections never have one. */
class DrainWatch {
  /** Deliveries waiting for the socket, each completing once. */
  waiting: Array<() => void> = []
  timer: NodeJS.Timeout | undefined
  /** The most seen unsent since the last check: below it now, some was taken. */
  peak = 0

  constructor (readonly client: SlowReader, readonly waitForDrain: (done: () => void) => void) {}

  unsent (): number {
    const conn = this.client.conn
    return conn.writableLength + (conn._handle?.writeQueueSize ?? 0)
  }
}

export class StalledReaders {
  readonly #stalled = new WeakSet<object>()
  readonly #watches = new WeakMap<object, DrainWatch>()
  readonly #stallMs: number
  /** One function for every client (aedes calls it as a method): no closure per connection. */
  readonly #waitForDrain: (this: SlowReader, done: () => void) => void
  #aedesWaitForDrain: ((done: () => void) => void) | undefined

  /** `stallMs` 0: aedes's behaviour (every delivery waits for the socket, nothing is dropped). */
  constructor (stallMs: number) {
    this.#stallMs = stallMs
    const readers = this
    this.#waitForDrain = function (this: SlowReader, done: () => void): void { readers.#wait(this, done) }
  }

  /** True while `client` is stalled: hook-slots withholds its live QoS 0 messages. */
  isStalled (client: object): boolean {
    return this.#stalled.has(client)
  }

  watch (client: SlowReader): void {
    if (this.#stallMs === 0) return
    const stalled = this.#stalled
    const { deliver0, waitForDrain } = client
    if (waitForDrain === this.#waitForDrain) return // watched already
    // aedes's Client.prototype.waitForDrain: the same for every client
    this.#aedesWaitForDrain ??= waitForDrain
    client.waitForDrain = this.#waitForDrain

    // A retained message sent on SUBSCRIBE (aedes clears its broker id) waits for a stalled socket to drain.
    // (Installed now: aedes binds a subscription to the client's deliver0 when it subscribes.)
    client.deliver0 = (packet, done) => {
      if (packet.brokerId !== null || !stalled.has(client)) return deliver0.call(client, packet, done)
      const conn = client.conn
      const resume = (): void => {
        conn.off('drain', resume).off('close', resume)
        deliver0.call(client, packet, done)
      }
      conn.once('drain', resume).once('close', resume)
    }
  }

  #wait (client: SlowReader, done: () => void): void {
    const stalled = this.#stalled
    if (stalled.has(client)) {
      if (client.conn.writableLength > STALLED_BUFFER_LIMIT) client.close()
      setImmediate(done)
      return
    }
    let w = this.#watches.get(client)
    if (w === undefined) {
      w = new DrainWatch(client, this.#aedesWaitForDrain!)
      this.#watches.set(client, w)
      this.#listen(w)
    }
    let pending = true
    const once = (): void => {
      if (!pending) return
      pending = false
      done()
    }
    w.waiting.push(once)
    w.peak = Math.max(w.peak, w.unsent())
    // aedes's own wait (and its drainTimeoutMs timer) goes on; whichever comes first completes the delivery.
    w.waitForDrain.call(client, once)
    w.timer ??= setTimeout(() => { this.#check(w) }, this.#stallMs)
  }

  /** From a client's first wait for its socket on: its 'drain' ends the wait (and a stall). */
  #listen (w: DrainWatch): void {
    const conn = w.client.conn
    conn.on('drain', () => {
      this.#stalled.delete(w.client)
      w.waiting = []
      w.peak = 0
      if (w.timer !== undefined) clearTimeout(w.timer)
      w.timer = undefined
    })
    conn.once('close', () => { if (w.timer !== undefined) clearTimeout(w.timer) })
  }

  #check (w: DrainWatch): void {
    const now = w.unsent()
    if (now < w.peak) {
      // Slow, not stopped: look again later.
      w.peak = now
      w.timer = setTimeout(() => { this.#check(w) }, this.#stallMs)
      return
    }
    w.timer = undefined
    this.#stalled.add(w.client)
    const released = w.waiting
    w.waiting = []
    for (const done of released) done()
  }
}
