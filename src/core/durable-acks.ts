/**
 * QoS 1 durability: PUBACK only once the message is in the store.
 *
 * aedes 1.2 writes the PUBACK for a client's QoS 1 PUBLISH *before* it
 * publishes (lib/handlers/publish.js: `write(PubAck)`, then `broker.publish`:
 * storeRetained → outgoingEnqueueCombi → emit), so a crash in between loses a
 * message the publisher was told is safe. aedes writes that PUBACK
 * synchronously inside the `authorizePublish` callback (runSeries →
 * enqueuePublish → write → mqtt-packet writeToStream), to `client.conn`, which
 * is our stream. So:
 *
 * - `hold` calls aedes's callback with the connection in capture mode: the
 *   connection's `write` (wrapped once, in `attach`) keeps the bytes instead
 *   of writing them and returns true, so aedes never waits for a 'drain' that
 *   cannot come. (Holding the stream corked instead can deadlock: past the
 *   highWaterMark aedes waits for 'drain' before it publishes, and the store
 *   write the PUBACK waits for never starts.)
 * - the core store decorator (core-store.ts) recognises the message when aedes
 *   enqueues it (`claim`: aedes-packet keeps the payload Buffer by reference,
 *   and mqtt-packet parses every payload into a Buffer of its own) and
 *   `release`s the PUBACK when the store resolved; if the store rejects, the
 *   PUBACK is never sent (`fail`: aedes closes the connection, the publisher
 *   sends the message again). aedes's `publish` event, which follows every
 *   step of a publish, releases anything the store did not.
 * - PUBACKs go out in the order their PUBLISHes arrived [MQTT-4.6.0-2]: a
 *   FIFO per connection, flushed up to the first one still waiting.
 *
 * Only for durable stores: with the memory store a crash loses everything
 * anyway. Wills, the broker's own publishes and QoS 0/2 are untouched (aedes
 * sends PUBREC only after storing).
 */
import type { Writable } from 'node:stream'

type Write = Writable['write']

/** A PUBACK captured and not yet written. */
interface HeldAck {
  readonly connection: Connection
  readonly bytes: Buffer
  readonly topic: string
  ready: boolean
}

/** Per connection: capture mode, and the PUBACKs waiting, in arrival order. */
class Connection {
  capturing = false
  captured: Buffer[] = []
  queue: HeldAck[] = []
  head = 0
  /** A message of this connection failed to store: nothing more is acknowledged on it. */
  failed = false
  /** Corked by a release, until the next tick: PUBACKs released together go out in one write. */
  corked = false

  constructor (readonly stream: Writable, readonly write: Write) {}
}

function uncork (c: Connection): void {
  c.corked = false
  c.stream.uncork()
}

/** Compact a FIFO's consumed prefix once it is this long (and half the array). */
const COMPACT_AT = 1024

export class DurableAcks {
  readonly #connections = new WeakMap<object, Connection>()
  /** Payload Buffer of a held publish → its PUBACK (what the store decorator sees). */
  readonly #byPayload = new WeakMap<object, HeldAck>()
  /** The publish packet itself → its PUBACK (aedes's `publish` event). */
  readonly #byPacket = new WeakMap<object, HeldAck>()

  /** Wrap a connection's `write` once, before aedes gets the stream. */
  attach (stream: Writable): void {
    const write = stream.write
    const connection = new Connection(stream, write)
    this.#connections.set(stream, connection)
    stream.write = function capturingWrite (this: Writable, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      if (!connection.capturing) return (write as (...args: unknown[]) => boolean).call(this, chunk, encoding, callback)
      connection.captured.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer)
      const done = typeof encoding === 'function' ? encoding : callback
      if (typeof done === 'function') process.nextTick(done as () => void)
      return true
    } as Write
  }

  /**
   * Let aedes go on with an allowed QoS 1 PUBLISH (`allow` is aedes's
   * authorizePublish callback), keeping back the PUBACK it writes.
   */
  hold (conn: object, packet: { topic: string, payload: unknown }, allow: () => void): void {
    const connection = this.#connections.get(conn)
    if (connection === undefined) return allow()
    connection.capturing = true
    try {
      allow()
    } finally {
      connection.capturing = false
    }
    const chunks = connection.captured
    if (chunks.length === 0) return // aedes wrote nothing (the connection is closing)
    connection.captured = []
    if (connection.failed) return
    const ack: HeldAck = { connection, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), topic: packet.topic, ready: false }
    connection.queue.push(ack)
    const payload = packet.payload
    if (typeof payload === 'object' && payload !== null && !this.#byPayload.has(payload)) this.#byPayload.set(payload, ack)
    this.#byPacket.set(packet, ack)
  }

  /** The PUBACK held for the message aedes now stores (`packet` is aedes's copy), if any. */
  claim (packet: { topic: string, payload?: unknown }): HeldAck | undefined {
    const payload = packet.payload
    if (typeof payload !== 'object' || payload === null) return undefined
    const ack = this.#byPayload.get(payload)
    if (ack === undefined || ack.topic !== packet.topic) return undefined
    this.#byPayload.delete(payload)
    return ack
  }

  /** aedes finished publishing `packet` (its `publish` event). */
  published (packet: object): void {
    const ack = this.#byPacket.get(packet)
    if (ack === undefined) return
    this.#byPacket.delete(packet)
    this.release(ack)
  }

  /** The store has the message: its PUBACK may go, after every earlier one. */
  release (ack: HeldAck): void {
    if (ack.ready) return
    ack.ready = true
    const c = ack.connection
    if (c.failed || c.queue[c.head] !== ack) return
    const out: Buffer[] = []
    let i = c.head
    while (i < c.queue.length && c.queue[i]!.ready) out.push(c.queue[i++]!.bytes)
    if (i === c.queue.length) {
      c.queue = []
      c.head = 0
    } else if (i >= COMPACT_AT && i * 2 >= c.queue.length) {
      c.queue = c.queue.slice(i)
      c.head = 0
    } else {
      c.head = i
    }
    const stream = c.stream
    if (stream.destroyed || stream.writableEnded) return
    if (!c.corked) {
      c.corked = true
      stream.cork()
      process.nextTick(uncork, c)
    }
    for (const bytes of out) (c.write as (chunk: Buffer) => boolean).call(stream, bytes)
  }

  /** The store refused the message: its PUBACK, and every later one on that connection, never goes. */
  fail (ack: HeldAck): void {
    const c = ack.connection
    c.failed = true
    c.queue = []
    c.head = 0
  }
}
