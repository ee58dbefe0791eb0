import type { StoredPacket } from './types.js'

/**
 * The `maxQueued` policy: when a session queue is over its bound, the message
 * to drop is the one with the LOWEST priority, and among those the OLDEST.
 * Every queued message counts, sent-but-unacknowledged ones too (after a
 * disconnect those are simply the oldest backlog); handshake state (a PUBREL
 * owed to the client) is not a message and never goes. A message dropped while
 * in flight may still reach the client: the drop means the store no longer
 * holds it (no redelivery).
 */

/** Priority of a message without `properties.priority` (midge's `defaultPriority`). */
export const DEFAULT_PRIORITY = 4

/** The priority the bound ranks a packet by. */
export function priorityOf (packet: StoredPacket): number {
  const p = packet.properties?.priority
  return typeof p === 'number' && Number.isFinite(p) ? p : DEFAULT_PRIORITY
}

/** What the bound needs to know of a queue entry. */
export interface Droppable {
  /** Position in the queue: lower is older. */
  readonly seq: number
  readonly priority: number
}

/**
 * Droppable entries bucketed by priority, each bucket in queue order, so the
 * victim is found in O(number of priorities) instead of a scan of a queue that
 * may hold `maxQueued` (10,000 by default) entries.
 */
export class DropCandidates<T extends Droppable> {
  readonly #buckets = new Map<number, Map<number, T>>()

  add (entry: T): void {
    let bucket = this.#buckets.get(entry.priority)
    if (bucket === undefined) {
      bucket = new Map()
      this.#buckets.set(entry.priority, bucket)
    }
    // Entries arrive in seq order (at load too: they are added sorted), so a
    // bucket's first entry is its oldest.
    bucket.set(entry.seq, entry)
  }

  delete (entry: T): void {
    const bucket = this.#buckets.get(entry.priority)
    if (bucket === undefined) return
    bucket.delete(entry.seq)
    if (bucket.size === 0) this.#buckets.delete(entry.priority)
  }

  /** The lowest-priority, oldest candidate. */
  lowest (): T | undefined {
    let best: number | undefined
    for (const priority of this.#buckets.keys()) {
      if (best === undefined || priority < best) best = priority
    }
    if (best === undefined) return undefined
    return this.#buckets.get(best)?.values().next().value
  }
}
