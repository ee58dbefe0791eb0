import { DropCandidates, type Droppable } from './queue-bound.js'
import type { StoredPacket } from './types.js'

/** A queued message body, stored once and shared by every subscriber's entry. */
export interface MessageBody {
  /** Its document id; undefined when it is written inside its only queue entry's document. */
  readonly id: string | undefined
  /** Queue entries pointing at it; the document goes when this reaches 0. */
  refs: number
  /** Payload bytes. */
  readonly bytes: number
  /** Epoch ms it was queued (consumer lag). */
  readonly at: number
}

/** One entry of a client's outgoing queue. */
export interface QueueEntry extends Droppable {
  /** Document id of the entry's current version. */
  docId: string
  /** What aedes gets back: the message (an aedes-packet Packet), or the PUBREL that replaced it. */
  packet: StoredPacket
  /** The shared body while the entry is still the message; undefined once replaced. */
  body: MessageBody | undefined
  /** Its packet id is newer than the one in its document (a QoS 1 id, kept in memory). */
  idUnsaved?: boolean
}

/**
 * One client's outgoing queue, in order, with the lookups aedes needs kept
 * cheap: by (brokerId, brokerCounter) for `outgoingUpdate`, and by priority
 * for the `maxQueued` bound. The matching rules are those of
 * aedes-persistence's memory store, so the upstream suite's expectations hold.
 */
export class ClientQueue {
  /** Entries by seq; a Map iterates in insertion order, which is queue order. */
  readonly #entries = new Map<number, QueueEntry>()
  /**
   * brokerId → brokerCounter → entry. Nested maps with numeric inner keys: no
   * key string built per message. An array only when a client matched one
   * message twice (two overlapping filters), which is rare.
   */
  readonly #byCounter = new Map<unknown, Map<unknown, QueueEntry | QueueEntry[]>>()
  /**
   * Packet id → entries carrying it, for acks and PUBRELs: a scan of the
   * queue per ack made fan-in to online persistent subscribers quadratic in
   * their backlog (held-back messages wait in the same queue). Usually one
   * entry; several only around a reconnect, when old ids linger.
   */
  readonly #byMessageId = new Map<unknown, QueueEntry | QueueEntry[]>()
  /** Entries that are still a message (not a PUBREL): what the bound may drop. */
  readonly #droppable = new DropCandidates<QueueEntry>()

  get size (): number {
    return this.#entries.size
  }

  values (): IterableIterator<QueueEntry> {
    return this.#entries.values()
  }

  push (entry: QueueEntry): void {
    this.#entries.set(entry.seq, entry)
    if (entry.body !== undefined && typeof entry.packet.brokerId === 'string') {
      let counters = this.#byCounter.get(entry.packet.brokerId)
      if (counters === undefined) {
        counters = new Map()
        this.#byCounter.set(entry.packet.brokerId, counters)
      }
      const seen = counters.get(entry.packet.brokerCounter)
      if (seen === undefined) counters.set(entry.packet.brokerCounter, entry)
      else if (Array.isArray(seen)) seen.push(entry)
      else counters.set(entry.packet.brokerCounter, [seen, entry])
    }
    if (entry.body !== undefined) this.#droppable.add(entry)
    this.#indexId(entry)
  }

  remove (entry: QueueEntry): void {
    this.#entries.delete(entry.seq)
    this.#unindex(entry)
    this.#unindexId(entry)
    this.#droppable.delete(entry)
  }

  /**
   * The entry `outgoingUpdate(packet)` applies to, and how: the same message
   * (same broker and counter) gets the packet id; a different packet with the
   * same packet id (the PUBREL of a QoS 2 handshake) replaces the entry.
   *
   * Unlike aedes-persistence 11's memory store, a packet without a broker id
   * (a PUBREL) is never "the same message" as an earlier PUBREL entry: there
   * `undefined === undefined` matches, so with two QoS 2 deliveries in flight
   * the second PUBREC rewrites the id of the first PUBREL — the very object
   * aedes is about to write — and handshake #1 never completes (found by the
   * kill -9 test; reproduced on the memory store).
   */
  findForUpdate (packet: StoredPacket): { entry: QueueEntry, replace: boolean } | undefined {
    const indexed = this.#indexed(packet)
    if (indexed !== undefined) return { entry: indexed, replace: false }
    const broker = typeof packet.brokerId === 'string' ? packet.brokerId : undefined
    for (const entry of this.#withMessageId(packet.messageId)) {
      // same broker, other counter: another message that happens to reuse the id (memory-store rule)
      if (broker !== undefined && entry.packet.brokerId === broker) continue
      return { entry, replace: true }
    }
    return undefined
  }

  /**
   * The entry an ack (`outgoingClearMessageId`) removes: the first with the
   * packet id. Without a packet id (aedes clears a message `authorizeForward`
   * refused, before any id was given) it is the same message, found by broker
   * and counter: the memory store would take whichever unsent entry comes first.
   */
  findForClear (packet: StoredPacket): QueueEntry | undefined {
    if (packet.messageId === undefined || packet.messageId === null) return this.#indexed(packet)
    const seen = this.#byMessageId.get(packet.messageId)
    // one entry per id but around a reconnect: no list built for it
    return Array.isArray(seen) ? this.#withMessageId(packet.messageId)[0] : seen
  }

  /** Whether the message (broker id and counter) still has an entry here. */
  holds (packet: StoredPacket): boolean {
    return this.#indexed(packet) !== undefined
  }

  /** The packet id was given: the message is in flight now. */
  assignMessageId (entry: QueueEntry, messageId: number | undefined): void {
    this.#unindexId(entry)
    entry.packet.messageId = messageId
    this.#indexId(entry)
  }

  /** A PUBREL (or another broker's packet) takes the entry's place. */
  replace (entry: QueueEntry, packet: StoredPacket): void {
    this.#unindex(entry)
    this.#unindexId(entry)
    this.#droppable.delete(entry)
    entry.packet = packet
    entry.body = undefined
    this.#indexId(entry)
  }

  /** Who goes when the queue is over its bound; undefined if nothing may go. */
  victim (): QueueEntry | undefined {
    return this.#droppable.lowest()
  }

  /** The first entry of the same message (broker and counter), if any. */
  #indexed (packet: StoredPacket): QueueEntry | undefined {
    if (typeof packet.brokerId !== 'string') return undefined
    const seen = this.#byCounter.get(packet.brokerId)?.get(packet.brokerCounter)
    return Array.isArray(seen) ? seen[0] : seen
  }

  /** Entries with this packet id, in queue order. */
  #withMessageId (messageId: unknown): readonly QueueEntry[] {
    if (messageId === undefined) {
      // no id to look up: the memory store's rule matches entries that have none either
      return [...this.#entries.values()].filter((e) => e.packet.messageId === undefined)
    }
    const seen = this.#byMessageId.get(messageId)
    if (seen === undefined) return []
    return Array.isArray(seen) ? [...seen].sort((a, b) => a.seq - b.seq) : [seen]
  }

  #indexId (entry: QueueEntry): void {
    const id = entry.packet.messageId
    if (id === undefined) return
    const seen = this.#byMessageId.get(id)
    if (seen === undefined) this.#byMessageId.set(id, entry)
    else if (Array.isArray(seen)) seen.push(entry)
    else this.#byMessageId.set(id, [seen, entry])
  }

  #unindexId (entry: QueueEntry): void {
    const id = entry.packet.messageId
    const seen = id === undefined ? undefined : this.#byMessageId.get(id)
    if (seen === undefined) return
    if (!Array.isArray(seen)) {
      if (seen === entry) this.#byMessageId.delete(id)
      return
    }
    const rest = seen.filter((e) => e !== entry)
    if (rest.length === 0) this.#byMessageId.delete(id)
    else this.#byMessageId.set(id, rest.length === 1 ? rest[0] as QueueEntry : rest)
  }

  #unindex (entry: QueueEntry): void {
    if (entry.body === undefined || typeof entry.packet.brokerId !== 'string') return
    const counters = this.#byCounter.get(entry.packet.brokerId)
    const seen = counters?.get(entry.packet.brokerCounter)
    if (counters === undefined || seen === undefined) return
    if (Array.isArray(seen)) {
      const rest = seen.filter((e) => e !== entry)
      counters.set(entry.packet.brokerCounter, rest.length === 1 ? rest[0] as QueueEntry : rest)
    } else if (seen === entry) {
      counters.delete(entry.packet.brokerCounter)
      if (counters.size === 0) this.#byCounter.delete(entry.packet.brokerId)
    }
  }
}
