import type { MessageBody } from './client-queue.js'
import type { StoredPacket } from './types.js'

/**
 * Running figures of what the store holds, for `$SYS` and `/metrics`: kept
 * up to date by every change (a few additions each), so a read costs
 * nothing and never touches the datafile. Rebuilt from the file at load, so
 * they are right after a restart too.
 */

/** What the store holds now. */
export interface StoreFigures {
  /** Messages waiting in session queues, one per (session, message); sent-but-unacknowledged ones too. */
  queued: number
  /** Epoch ms at which the oldest message still queued for any session was queued; undefined when none is. */
  oldestQueuedAt: number | undefined
  /** Distinct messages held: retained ones, plus queued ones (a message queued for ten sessions is held once). */
  messages: number
  /** Payload bytes of those messages. */
  messageBytes: number
  retained: number
  /** Offline clients whose session has something stored (subscriptions, queued messages, QoS 2 state). */
  disconnected: number
  /** Subscriptions of persistent sessions, online or not. */
  subscriptions: number
}

/** Payload size in bytes (a string payload counts as its UTF-8 encoding). */
export function payloadBytes (packet: StoredPacket): number {
  const p = packet.payload
  if (p === undefined) return 0
  return typeof p === 'string' ? Buffer.byteLength(p) : p.byteLength
}

export class StoreTally {
  /** Queue entries that are still a message (not a PUBREL owed). */
  queued = 0
  #retained = 0
  #retainedBytes = 0
  /** Live message bodies in the order they were queued: the first is the oldest. */
  readonly #bodies = new Set<MessageBody>()
  #bodyBytes = 0

  /** A retained message of `bytes` replaced one of `before` bytes (undefined: none), or was cleared (`bytes` undefined). */
  retain (before: number | undefined, bytes: number | undefined): void {
    if (before !== undefined) {
      this.#retained--
      this.#retainedBytes -= before
    }
    if (bytes !== undefined) {
      this.#retained++
      this.#retainedBytes += bytes
    }
  }

  /** A body is held from now on; call in queue order (at load: sorted by write number). */
  hold (body: MessageBody): void {
    this.#bodies.add(body)
    this.#bodyBytes += body.bytes
  }

  /** The body's last queue entry is gone. */
  release (body: MessageBody): void {
    if (this.#bodies.delete(body)) this.#bodyBytes -= body.bytes
  }

  figures (disconnected: number, subscriptions: number): StoreFigures {
    const oldest = this.#bodies.values().next().value
    return {
      queued: this.queued,
      oldestQueuedAt: oldest?.at,
      messages: this.#retained + this.#bodies.size,
      messageBytes: this.#retainedBytes + this.#bodyBytes,
      retained: this.#retained,
      disconnected,
      subscriptions,
    }
  }
}
