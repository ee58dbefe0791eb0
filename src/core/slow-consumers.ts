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
 * So a client whose socket has not drained for `stallMs` while deliveries
 * wait on it is *stalled*: the waiting deliveries complete, later writes to it
 * do not wait, and it gets no QoS 0 message — each is dropped and reported
 * once (reason `slow_consumer`) — until its socket drains again. Retained
 * messages sent on its SUBSCRIBE are never dropped (they hold up no
 * publisher). QoS 1/2 deliveries are bounded by the inflight window, and
 * `drainTimeoutMs` still closes a client that never reads again.
 *
 * A time, not a byte count, tells stalled from slow: bytes unsent say only
 * that publishers are faster than the reader, which backpressure is for.
 */
import type { Writable } from 'node:stream'

/** What this uses of an aedes 1.2 Client (not in its public types). */
export interface SlowReader {
  readonly conn: Writable
  deliver0(packet: Qos0Packet, done: () => void): void
  waitForDrain(done: () => void): void
}

interface Qos0Packet {
  topic: string
  payload: Buffer | string
  qos: number
  retain: boolean
  /** null on the retained messages aedes sends on SUBSCRIBE. */
  brokerId?: string | null
  brokerCounter?: number
}

/** `stallMs` 0: aedes's behaviour (every delivery waits for the socket, nothing is dropped). */
export function releaseStalledReaders (client: SlowReader, stallMs: number, onDrop: (packet: Qos0Packet) => void): void {
  if (stallMs === 0) return
  const { deliver0, waitForDrain } = client
  const conn = client.conn
  let stalled = false
  /** Deliveries waiting for the socket, each completing once. */
  let waiting: Array<() => void> = []
  let timer: NodeJS.Timeout | undefined
  /** The last message reported dropped: a client matches one message through each overlapping filter. */
  let lastDropped: Qos0Packet | undefined

  const stall = (): void => {
    timer = undefined
    stalled = true
    const released = waiting
    waiting = []
    for (const done of released) done()
  }
  conn.on('drain', () => {
    stalled = false
    waiting = []
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  })
  conn.once('close', () => { if (timer !== undefined) clearTimeout(timer) })

  client.waitForDrain = (done) => {
    if (stalled) {
      setImmediate(done)
      return
    }
    let pending = true
    const once = (): void => {
      if (!pending) return
      pending = false
      done()
    }
    waiting.push(once)
    // aedes's own wait (and its drainTimeoutMs timer) goes on; whichever comes first completes the delivery.
    waitForDrain.call(client, once)
    timer ??= setTimeout(stall, stallMs)
  }

  client.deliver0 = (packet, done) => {
    if (!stalled || packet.brokerId === null) return deliver0.call(client, packet, done)
    if (lastDropped === undefined || lastDropped.brokerCounter !== packet.brokerCounter || lastDropped.brokerId !== packet.brokerId) {
      lastDropped = packet
      onDrop(packet)
    }
    setImmediate(done)
  }
}
