/**
 * Deliveries never wait for a slow reader.
 *
 * aedes completes a delivery only once it is written, and when the socket's
 * buffer is full that means once the socket drains (lib/write.js
 * `waitForDrain`); a publish is routed only when every delivery of it is
 * complete, and the publisher's next packets wait for that. So one subscriber
 * that stopped reading — a device gone quiet behind a NAT, a stuck consumer —
 * held up every publisher to its topics, and the embedding API's `publish()`,
 * until `limits.drainTimeoutMs` (60 s) closed it.
 *
 * Here a client with `limitBytes` or more unsent gets no further QoS 0
 * message: each is dropped and reported (reason `slow_consumer`) until it
 * catches up. And a write to a full socket completes at once (aedes's drain
 * timer still runs, so a client that does not read at all is still closed
 * after `drainTimeoutMs`) until the client has `HARD_LIMIT_FACTOR` times
 * that unsent; only then does it wait, as in aedes. The margin is for the
 * QoS 0 deliveries already decided when the limit is reached (they are
 * written a moment later, from immediates: up to one read of every publisher
 * in a turn) and for QoS 1/2, which the inflight window bounds.
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
}

function noop (): void {}

const HARD_LIMIT_FACTOR = 4

/** `limitBytes` 0: aedes's behaviour (wait for the socket, drop nothing). */
export function neverWaitOnSlowReaders (client: SlowReader, limitBytes: number, onDrop: (packet: Qos0Packet) => void): void {
  if (limitBytes === 0) return
  const { deliver0, waitForDrain } = client
  client.deliver0 = (packet, done) => {
    if (client.conn.writableLength < limitBytes) return deliver0.call(client, packet, done)
    onDrop(packet)
    setImmediate(done)
  }
  const hardLimit = HARD_LIMIT_FACTOR * limitBytes
  client.waitForDrain = (done) => {
    if (client.conn.writableLength >= hardLimit) return waitForDrain.call(client, done)
    waitForDrain.call(client, noop)
    setImmediate(done)
  }
}
