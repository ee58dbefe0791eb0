import type { ClientInfo } from '../../src/core/message.js'
import { IdentityIndex, type Identified } from './identity-index.js'
import type { WindowPacket } from './packet.js'
import { PriorityQueue, type HandOverMode, type Queued } from './priority-queue.js'

/** A message waiting for room in the window. */
export interface Held {
  readonly packet: WindowPacket
  /** Its store identity, when it has one (a retained copy sent on SUBSCRIBE has none). */
  readonly identity: Identified | undefined
  /** It is a persistent session's queue entry: it stays in the store until acknowledged. */
  readonly stored: boolean
  /** It came from the reconnect's backlog: a live copy of it may still arrive. */
  readonly adopted: boolean
}

/** One connection's window: its count, what waits, and what the store decorator must be told. */
export class Connection {
  /** Delivered QoS 1/2 messages not acknowledged yet (PUBACK / PUBCOMP). */
  inflight = 0
  /** Re-sends of the reconnect (sent before the disconnect) that have not reached the window yet. */
  resendPending = 0
  /** Persistent sessions: false until the reconnect's backlog is read and re-sends are written (`clientReady`). */
  ready: boolean
  closed = false
  /** A hand-over is running (`#pump`): it must not start again from inside itself. */
  pumping = false
  /** The hand-over being delivered now: the hook lets exactly it through, counted. */
  releasing = false
  readonly waiting: PriorityQueue<Held>
  /** Persistent sessions: waiting store entries by identity (a live copy of one is a duplicate). */
  readonly byIdentity = new IdentityIndex<Queued<Held>>()
  /** Persistent sessions: waiting store entries by their `properties` object, which is what a store drop reports. */
  readonly byMeta = new Map<object, Queued<Held>>()
  /** One-shot marks: aedes is about to tell the store to forget these; they were held, not refused. */
  readonly #keep = new IdentityIndex<number>()
  #keepUnidentified = 0
  /** `properties` of messages the store dropped (queue full) while this connection was up. */
  readonly dropped = new WeakSet<object>()
  /**
   * Persistent sessions: brokerId → highest brokerCounter of the reconnect's
   * backlog. Only a message up to it can be a live copy of a backlog entry
   * (queued before the backlog was read, emitted after).
   */
  backlogHigh: Map<string, number> | undefined
  /**
   * Backlog entries handed over and not acknowledged yet: their live copies
   * must not go out. A QoS 1 one leaves at its PUBACK; a QoS 2 one (its
   * PUBCOMP names no message) once the store no longer holds it.
   */
  readonly sent = new IdentityIndex<WindowPacket>()

  constructor (readonly client: ClientInfo, mode: HandOverMode) {
    this.ready = client.clean
    this.waiting = new PriorityQueue(mode)
  }

  /** aedes will tell the store to forget this withheld delivery next: keep its entry. */
  keep (identity: Identified | undefined): void {
    if (identity === undefined) {
      this.#keepUnidentified++
      return
    }
    this.#keep.set(identity, (this.#keep.get(identity) ?? 0) + 1)
  }

  /** Takes one keep mark for the message; false if there was none. */
  takeKeep (identity: Identified | undefined): boolean {
    if (identity === undefined) {
      if (this.#keepUnidentified === 0) return false
      this.#keepUnidentified--
      return true
    }
    const n = this.#keep.get(identity)
    if (n === undefined) return false
    if (n <= 1) this.#keep.delete(identity)
    else this.#keep.set(identity, n - 1)
    return true
  }

  /** `held` is waiting now (indexed for live copies and store drops). */
  hold (held: Held, priority: number): void {
    const queued = this.waiting.push(held, priority)
    if (held.identity !== undefined) this.byIdentity.set(held.identity, queued)
    if (held.stored && held.packet.properties !== undefined) this.byMeta.set(held.packet.properties, queued)
  }

  /** The next waiting message to hand over, out of the indexes. */
  next (): Held | undefined {
    const held = this.waiting.pop()
    if (held === undefined) return undefined
    if (held.identity !== undefined) this.byIdentity.delete(held.identity)
    const meta = held.packet.properties
    if (held.stored && meta !== undefined) this.byMeta.delete(meta)
    return held
  }

  /** Everything waiting, out of the queue and the indexes. */
  takeWaiting (): Held[] {
    const held = this.waiting.drain()
    this.byIdentity.clear()
    this.byMeta.clear()
    return held
  }
}
