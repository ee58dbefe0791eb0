import { ClientQueue, type MessageBody, type QueueEntry } from './client-queue.js'
import { encodeBody, encodePacket, encodeSubscription, type StoreDoc } from './codec.js'
import { SessionClock } from './expiry.js'
import { Packet } from './packet.js'
import { priorityOf } from './queue-bound.js'
import { SubscriptionIndex } from './subscription-index.js'
import { payloadBytes, StoreTally, type StoreFigures } from './tally.js'
import type { DropListener, StoredPacket } from './types.js'

/**
 * Everything the store holds, in memory, where aedes reads it from. Every
 * change also goes to a `DocWriter` as documents to put and ids to delete; the
 * caller then awaits the write batch. Reads never touch the datafile.
 */

/** Receives the document side of every change. */
export interface DocWriter {
  put(doc: StoreDoc): void
  del(id: string): void
  /** A new write number: unique and increasing, also used as queue position. */
  next(): number
}

/** A stored packet with the id of the document that holds it. */
export interface Stored {
  packet: StoredPacket
  docId: string
}

export interface StateOptions {
  /** Most entries per client queue; 0 = unbounded. */
  maxQueued: number
  onDrop: DropListener
  /** Clock for queue times. */
  now: () => number
}

export const docId = (w: number): string => w.toString(36)

/** The document id of a retained message kept in memory only (`$SYS`): never written, never removed. */
const VOLATILE = ''

export class SessionState {
  readonly retained = new Map<string, Stored>()
  readonly subs = new SubscriptionIndex()
  /** Client → id of its subscriptions document. */
  readonly subDocs = new Map<string, string>()
  readonly queues = new Map<string, ClientQueue>()
  readonly incoming = new Map<string, Map<number, Stored>>()
  readonly wills = new Map<string, Stored>()
  readonly clock = new SessionClock()
  readonly tally = new StoreTally()
  readonly #w: DocWriter
  readonly #opts: StateOptions

  constructor (writer: DocWriter, options: StateOptions) {
    this.#w = writer
    this.#opts = options
  }

  /** True if the client has anything a reconnect would get back. */
  hasSession (clientId: string): boolean {
    return this.subs.has(clientId) || this.queues.has(clientId) || this.incoming.has(clientId)
  }

  /** What the store holds now (running counts: no scan). */
  figures (): StoreFigures {
    return this.tally.figures(this.clock.offlineCount, this.subs.filters)
  }

  setRetained (packet: StoredPacket): void {
    const topic = String(packet.topic)
    const previous = this.retained.get(topic)
    if (previous !== undefined && previous.docId !== VOLATILE) this.#w.del(previous.docId)
    const before = previous === undefined ? undefined : payloadBytes(previous.packet)
    // An empty payload clears the retained message [MQTT-3.3.1-10].
    if (packet.payload === undefined || packet.payload.length === 0) {
      this.retained.delete(topic)
      this.tally.retain(before, undefined)
      return
    }
    // $SYS figures are republished every tick: written, they cost a line each per tick (flash wear on a
    // gateway) for values that are stale after a restart anyway. They stay retained in memory only.
    const id = topic.startsWith('$SYS/') ? VOLATILE : docId(this.#w.next())
    if (id !== VOLATILE) this.#w.put({ _id: id, t: 'r', p: encodePacket(packet) })
    this.retained.set(topic, { packet, docId: id })
    this.tally.retain(before, payloadBytes(packet))
  }

  /** A retained message read back from the datafile (no write). */
  restoreRetained (topic: string, stored: Stored): void {
    this.retained.set(topic, stored)
    this.tally.retain(undefined, payloadBytes(stored.packet))
  }

  /** Rewrites the client's subscriptions document from the index (one line per change). */
  writeSubscriptions (clientId: string): void {
    const previous = this.subDocs.get(clientId)
    if (previous !== undefined) this.#w.del(previous)
    const records = this.subs.records(clientId)
    if (records === undefined || records.size === 0) {
      this.subDocs.delete(clientId)
      return
    }
    const id = docId(this.#w.next())
    this.#w.put({ _id: id, t: 's', c: clientId, l: [...records].map(([topic, sub]) => encodeSubscription(topic, sub)) })
    this.subDocs.set(clientId, id)
  }

  /**
   * Queues one copy of `packet` for each client; the body is stored once. A
   * message for one client is one document (its entry carries the body): one
   * line written and one removed per message instead of two, and half the
   * lines to load at start.
   */
  enqueue (clientIds: readonly string[], packet: StoredPacket): void {
    if (clientIds.length === 0) return
    if (clientIds.length === 1) {
      this.#enqueueOne(clientIds[0] as string, packet)
      return
    }
    // refs starts at 1, a guard held for the loop: a bound drop of the first
    // copy must not release the body the next copies still need.
    const id = docId(this.#w.next())
    const body: MessageBody = { id, refs: 1, bytes: payloadBytes(packet), at: this.#opts.now() }
    this.#w.put({ _id: id, t: 'm', j: encodeBody(new Packet(packet)), a: body.at })
    this.tally.hold(body)
    const priority = priorityOf(packet)
    for (const clientId of clientIds) {
      const seq = this.#w.next()
      const entry: QueueEntry = { seq, docId: docId(seq), packet: new Packet(packet), body, priority }
      body.refs++
      this.#w.put(this.#entryDoc(clientId, entry))
      this.#append(clientId, entry)
    }
    // Every copy dropped at once: the body goes too (its put is cancelled unwritten).
    this.#release(body)
  }

  #enqueueOne (clientId: string, packet: StoredPacket): void {
    const seq = this.#w.next()
    const body: MessageBody = { id: undefined, refs: 1, bytes: payloadBytes(packet), at: this.#opts.now() }
    const entry: QueueEntry = { seq, docId: docId(seq), packet: new Packet(packet), body, priority: priorityOf(packet) }
    this.tally.hold(body)
    this.#w.put({ _id: entry.docId, t: 'q', c: clientId, s: seq, j: encodeBody(entry.packet), a: body.at })
    this.#append(clientId, entry)
  }

  /** Appends a new entry (its document already put) to the client's queue, within `maxQueued`. */
  #append (clientId: string, entry: QueueEntry): void {
    this.#queue(clientId).push(entry)
    this.tally.queued++
    this.enforceBound(clientId)
  }

  /**
   * `outgoingUpdate`: undefined if there is no such packet, else whether the
   * change went to the datafile (`written`: the caller waits for it) or stays
   * in memory. A QoS 1 packet id stays in memory: lost in a crash, the message
   * only goes out again under a new id, which QoS 1 allows; `saveMessageIds`
   * writes the ones still in flight at a clean close. A QoS 2 id and a PUBREL
   * must survive a crash (exactly once), so they are written.
   */
  updateEntry (clientId: string, packet: StoredPacket): 'written' | 'memory' | undefined {
    const queue = this.queues.get(clientId)
    const found = queue?.findForUpdate(packet)
    if (queue === undefined || found === undefined) return undefined
    const { entry, replace } = found
    if (replace) {
      const body = entry.body
      // a copy: aedes goes on using its own PUBREL object
      queue.replace(entry, { ...packet })
      if (body !== undefined) this.tally.queued--
      this.#release(body)
    } else if (entry.packet.messageId === packet.messageId) {
      return 'memory' // redelivery with the id it already has: nothing changes
    } else {
      queue.assignMessageId(entry, packet.messageId)
      if (packet.qos !== 2) {
        entry.idUnsaved = true
        return 'memory'
      }
    }
    this.#rewrite(clientId, entry)
    return 'written'
  }

  /** Writes the QoS 1 packet ids that live only in memory (see `updateEntry`), so a clean restart re-sends with them. */
  saveMessageIds (): void {
    for (const [clientId, queue] of this.queues) {
      for (const entry of queue.values()) if (entry.idUnsaved === true) this.#rewrite(clientId, entry)
    }
  }

  /** `outgoingClearMessageId`: the removed packet, if any. */
  clearEntry (clientId: string, packet: StoredPacket): StoredPacket | undefined {
    const queue = this.queues.get(clientId)
    const entry = queue?.findForClear(packet)
    if (queue === undefined || entry === undefined) return undefined
    // an ack lost in a crash only brings the message back once more
    this.#removeEntry(clientId, queue, entry)
    return entry.packet
  }

  /** Drops lowest-priority, oldest entries until the queue is within `maxQueued`. Reports each. */
  enforceBound (clientId: string): void {
    const max = this.#opts.maxQueued
    const queue = this.queues.get(clientId)
    if (max <= 0 || queue === undefined) return
    while (queue.size > max) {
      const victim = queue.victim()
      if (victim === undefined) return // only handshake state left: nothing may go
      this.#removeEntry(clientId, queue, victim)
      this.#opts.onDrop({ reason: 'queue_full', clientId, packet: victim.packet })
    }
  }

  storeIncoming (clientId: string, packet: StoredPacket): void {
    const stored = new Packet(packet)
    stored.messageId = packet.messageId
    let map = this.incoming.get(clientId)
    if (map === undefined) {
      map = new Map()
      this.incoming.set(clientId, map)
    }
    const messageId = Number(packet.messageId)
    const previous = map.get(messageId)
    if (previous !== undefined) this.#w.del(previous.docId)
    const id = docId(this.#w.next())
    this.#w.put({ _id: id, t: 'i', c: clientId, p: encodePacket(stored) })
    map.set(messageId, { packet: stored, docId: id })
  }

  /** False if there is no such packet. */
  deleteIncoming (clientId: string, messageId: number): boolean {
    const map = this.incoming.get(clientId)
    const stored = map?.get(messageId)
    if (map === undefined || stored === undefined) return false
    map.delete(messageId)
    if (map.size === 0) this.incoming.delete(clientId)
    this.#w.del(stored.docId)
    return true
  }

  cleanIncoming (clientId: string): void {
    const map = this.incoming.get(clientId)
    if (map === undefined) return
    for (const stored of map.values()) this.#w.del(stored.docId)
    this.incoming.delete(clientId)
  }

  /** Removes the client's whole outgoing queue (a clean session starts without one); no drops: nothing was refused. */
  cleanQueue (clientId: string): number {
    const queue = this.queues.get(clientId)
    if (queue === undefined) return 0
    const removed = queue.size
    for (const entry of [...queue.values()]) this.#removeEntry(clientId, queue, entry)
    return removed
  }

  putWill (clientId: string, packet: StoredPacket): void {
    this.deleteWill(clientId)
    const id = docId(this.#w.next())
    this.#w.put({ _id: id, t: 'w', c: clientId, p: encodePacket(packet) })
    this.wills.set(clientId, { packet, docId: id })
  }

  deleteWill (clientId: string): StoredPacket | undefined {
    const stored = this.wills.get(clientId)
    if (stored === undefined) return undefined
    this.wills.delete(clientId)
    this.#w.del(stored.docId)
    return stored.packet
  }

  markOnline (clientId: string): void {
    const obsolete = this.clock.markOnline(clientId)
    if (obsolete !== undefined) this.#w.del(obsolete)
  }

  /** Records when the client left; a client with nothing stored leaves no record. */
  markOffline (clientId: string, at: number): void {
    if (!this.hasSession(clientId)) {
      const obsolete = this.clock.markGone(clientId)
      if (obsolete !== undefined) this.#w.del(obsolete)
      return
    }
    const id = docId(this.#w.next())
    this.#w.put({ _id: id, t: 'c', c: clientId, seen: at })
    const obsolete = this.clock.markOffline(clientId, { at, docId: id })
    if (obsolete !== undefined) this.#w.del(obsolete)
  }

  /** Removes everything stored for the client (session expiry). */
  removeSession (clientId: string): { subscriptions: number, queued: number } {
    const subscriptions = this.subs.filterCount(clientId)
    if (this.subs.clean(clientId)) this.writeSubscriptions(clientId)
    const queued = this.cleanQueue(clientId)
    this.cleanIncoming(clientId)
    this.deleteWill(clientId)
    const obsolete = this.clock.markGone(clientId)
    if (obsolete !== undefined) this.#w.del(obsolete)
    return { subscriptions, queued }
  }

  /** Adds an entry read back from the datafile (no write). */
  restoreEntry (clientId: string, entry: QueueEntry): void {
    this.#queue(clientId).push(entry)
    if (entry.body !== undefined) this.tally.queued++
  }

  #queue (clientId: string): ClientQueue {
    let queue = this.queues.get(clientId)
    if (queue === undefined) {
      queue = new ClientQueue()
      this.queues.set(clientId, queue)
    }
    return queue
  }

  #removeEntry (clientId: string, queue: ClientQueue, entry: QueueEntry): void {
    queue.remove(entry)
    if (queue.size === 0) this.queues.delete(clientId)
    this.#w.del(entry.docId)
    if (entry.body !== undefined) this.tally.queued--
    this.#release(entry.body)
  }

  /** One queue entry less points at the body; the last one removes it. */
  #release (body: MessageBody | undefined): void {
    if (body === undefined) return
    body.refs--
    if (body.refs === 0) {
      // a body inside its entry's document goes with that document
      if (body.id !== undefined) this.#w.del(body.id)
      this.tally.release(body)
    }
  }

  /** A new version of the entry's document; the old one may linger after a crash: the newer one wins at load. */
  #rewrite (clientId: string, entry: QueueEntry): void {
    entry.idUnsaved = false
    this.#w.del(entry.docId)
    entry.docId = docId(this.#w.next())
    this.#w.put(this.#entryDoc(clientId, entry))
  }

  #entryDoc (clientId: string, entry: QueueEntry): StoreDoc {
    if (entry.body === undefined) return { _id: entry.docId, t: 'q', c: clientId, s: entry.seq, p: encodePacket(entry.packet) }
    const mid = entry.packet.messageId
    const doc: Extract<StoreDoc, { t: 'q' }> = entry.body.id === undefined
      // the message as queued (aedes-packet's copy drops the packet id)
      ? { _id: entry.docId, t: 'q', c: clientId, s: entry.seq, j: encodeBody(new Packet(entry.packet)), a: entry.body.at }
      : { _id: entry.docId, t: 'q', c: clientId, s: entry.seq, m: entry.body.id }
    if (typeof mid === 'number') doc.mid = mid
    return doc
  }
}
