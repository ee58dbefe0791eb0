import type { Logger } from 'pino'
import type { OutboundPublish } from '../../src/core/hooks.js'
import type { ClientInfo, MessageMeta } from '../../src/core/message.js'
import { Connection, type Held } from './connection.js'
import { hasIdentity, IdentityIndex, type Identified } from './identity-index.js'
import type { WindowPacket } from './packet.js'
import type { HandOverMode } from './priority-queue.js'

/** What the windows need from the plugin around them. */
export interface WindowOptions {
  /** Unacknowledged QoS 1/2 deliveries per connection. */
  maxInflight: number
  /** Most messages waiting in memory per clean-session connection; overflow goes to `onOverflow`. */
  maxQueued: number
  mode: HandOverMode
  /** A message's priority (0–9). */
  priorityOf(packet: WindowPacket): number
  /** The core seam `BrokerApi.deliverTo`: false if the connection is gone. */
  deliver(client: ClientInfo, packet: OutboundPublish): boolean
  /** A waiting message was dropped to respect `maxQueued` (report it as a `drop`). */
  onOverflow(client: ClientInfo, packet: WindowPacket): void
  log: Logger
}

/** Whether the session store still holds a message for a client (the nedb store's `isQueued`). */
export type QueuedCheck = (client: ClientInfo, packet: WindowPacket) => boolean

/**
 * Per-connection inflight windows. Counted: QoS 1 deliveries until PUBACK,
 * QoS 2 until PUBCOMP (as Mosquitto's `max_inflight_messages`); QoS 0 is never
 * counted nor held. A delivery that finds the window full, or messages already
 * waiting, waits itself: in memory for a clean session, in the session store
 * for a persistent one (aedes queued it there before emitting it; the store
 * decorator keeps it when aedes would forget it). Each acknowledgement hands
 * the next waiting message over (`PriorityQueue` order), through the core's
 * `deliverTo`. In-flight messages are never pre-empted.
 *
 * A client that acknowledges packet ids it never got only widens its own
 * window: the count never goes below zero.
 */
export class InflightWindows {
  readonly #opts: WindowOptions
  readonly #connections = new WeakMap<ClientInfo, Connection>()
  /** Client id → its latest persistent connection, for store drops (which name a client id). */
  readonly #persistent = new Map<string, Connection>()
  /** Unacknowledged deliveries over all open connections (what the `inflight` figure reports). */
  #inflight = 0
  #isQueued: QueuedCheck | undefined

  constructor (options: WindowOptions) {
    this.#opts = options
  }

  /**
   * Lets the windows ask the session store whether it still holds a message
   * (feature-detected by the store decorator): a live copy of a backlog entry
   * already acknowledged is then recognised and dropped. Without it, that
   * copy goes out once more (QoS 1 allows it; the in-flight case is caught
   * either way).
   */
  useQueuedCheck (check: QueuedCheck): void {
    this.#isQueued = check
  }

  /** Unacknowledged QoS 1/2 deliveries, summed over every open connection. */
  get inflight (): number {
    return this.#inflight
  }

  /** The `authorizeForward` hook: undefined = deliver (counted), null = wait. */
  forward (client: ClientInfo, packet: WindowPacket): OutboundPublish | null | undefined {
    if (packet.qos === 0) return undefined
    const c = this.#connection(client)
    // A hand-over of ours (see #pump), or the fast path (room, nothing waiting): it takes its slot now.
    if (c.releasing) {
      c.releasing = false
      this.#take(c)
      return undefined
    }
    if (client.clean) {
      if (c.waiting.size === 0 && c.inflight < this.#opts.maxInflight) {
        this.#take(c)
        return undefined
      }
      this.#holdInMemory(c, packet)
      return null
    }
    return this.#forwardStored(c, packet, packet.properties)
  }

  /** A QoS 1/2 delivery to `client` was acknowledged (`message`: the stored copy, if the store returned it): one slot frees, the next waiting message goes. */
  acknowledged (client: ClientInfo, message?: { brokerId?: unknown, brokerCounter?: unknown }): void {
    const c = this.#connections.get(client)
    if (c === undefined) return
    if (c.sent.size > 0 && message !== undefined && hasIdentity(message)) c.sent.delete(message)
    if (c.inflight > 0) {
      c.inflight--
      if (!c.closed) this.#inflight--
    }
    this.#pump(c)
  }

  /** CONNACK sent and (persistent sessions) the backlog read and re-sent: hand over what waits. */
  ready (client: ClientInfo): void {
    const c = this.#connections.get(client)
    if (c === undefined) return
    c.ready = true
    // aedes's reconnect stream has finished: every re-send reached the window or was refused.
    c.resendPending = 0
    this.#pump(c)
  }

  /** The connection ended. A persistent session's waiting messages stay in the store; a clean session's go with it. */
  closed (client: ClientInfo): void {
    const c = this.#connections.get(client)
    if (c === undefined || c.closed) return
    c.closed = true
    this.#inflight -= c.inflight
    if (client.clean && c.waiting.size > 0) {
      this.#opts.log.debug({ clientId: client.id, waiting: c.waiting.size }, 'clean session ended with messages waiting for its window')
    }
    c.takeWaiting()
    c.sent.clear()
    if (this.#persistent.get(client.id) === c) this.#persistent.delete(client.id)
  }

  /**
   * The session store dropped a queued message of `clientId` (queue full). If
   * it was waiting here it must not be handed over; if it is still on its way
   * to the window, it must not wait there.
   */
  storeDropped (clientId: string, meta: MessageMeta | undefined): void {
    const c = this.#persistent.get(clientId)
    if (c === undefined || meta === undefined) return
    const queued = c.byMeta.get(meta)
    if (queued === undefined) {
      c.dropped.add(meta)
      return
    }
    c.waiting.remove(queued)
    c.byMeta.delete(meta)
    if (queued.item.identity !== undefined) c.byIdentity.delete(queued.item.identity)
  }

  /**
   * The store decorator asks, for a `publish` clear aedes makes after
   * `authorizeForward` said no: true if the window held it (keep the entry).
   */
  keepsStored (client: ClientInfo, packet: WindowPacket): boolean {
    const c = this.#connections.get(client)
    if (c === undefined) return false
    if (c.takeKeep(hasIdentity(packet) ? packet : undefined)) return true
    // A re-send of the reconnect refused by an earlier rule (e.g. an ACL): aedes drops it, its slot frees.
    if (packet.messageId !== undefined && packet.messageId !== null && c.resendPending > 0) {
      c.resendPending--
      this.#pump(c)
    }
    return false
  }

  /**
   * A persistent session's queue, read on reconnect (store order). Returns
   * what aedes re-sends now: PUBRELs owed and messages sent before the
   * disconnect but not acknowledged, in their order [MQTT-4.4.0-1]; they take
   * window slots even past `maxInflight` (in flight already). Every other
   * entry waits here, merged with live messages held meanwhile, and is handed
   * over by priority from `clientReady` on.
   */
  adoptBacklog (client: ClientInfo, entries: readonly WindowPacket[]): WindowPacket[] {
    const c = this.#connection(client)
    const resend: WindowPacket[] = []
    const resent = new IdentityIndex<true>()
    const high = new Map<string, number>()
    // Store order is FIFO order: the backlog goes first, then live messages held meanwhile that it does not hold.
    const live = c.takeWaiting()
    for (const entry of entries) {
      const identity = hasIdentity(entry) ? entry : undefined
      if (identity !== undefined && identity.brokerCounter > (high.get(identity.brokerId) ?? -1)) high.set(identity.brokerId, identity.brokerCounter)
      if (entry.cmd !== undefined && entry.cmd !== 'publish') {
        // A PUBREL owed: the QoS 2 exchange is in flight until PUBCOMP (it does not pass authorizeForward).
        this.#take(c)
        resend.push(entry)
      } else if (entry.messageId !== undefined && entry.messageId !== null) {
        c.resendPending++
        resend.push(entry)
        if (identity !== undefined) resent.set(identity, true)
      } else if (!c.closed) {
        c.hold({ packet: entry, identity, stored: true, adopted: true }, this.#opts.priorityOf(entry))
      }
    }
    if (c.closed) return resend
    c.backlogHigh = high.size > 0 ? high : undefined
    for (const held of live) {
      if (held.identity === undefined || !(c.byIdentity.has(held.identity) || resent.has(held.identity))) c.hold(held, this.#opts.priorityOf(held.packet))
    }
    return resend
  }

  /** Figures for one connection (tests, metrics). */
  inspect (client: ClientInfo): { inflight: number, waiting: number } | undefined {
    const c = this.#connections.get(client)
    return c === undefined ? undefined : { inflight: c.inflight, waiting: c.waiting.size }
  }

  #forwardStored (c: Connection, packet: WindowPacket, meta: MessageMeta | undefined): null | undefined {
    // Dropped by the store (queue full, reported) between queueing and this delivery.
    if (meta !== undefined && c.dropped.has(meta)) return null
    // Only aedes's reconnect stream passes packets that already have a packet id: the re-sends of adoptBacklog.
    if (packet.messageId !== undefined && packet.messageId !== null) {
      if (c.resendPending > 0) c.resendPending--
      this.#take(c)
      return undefined
    }
    const identity = hasIdentity(packet) ? packet : undefined
    // A live copy of a backlog entry (queued before the reconnect read the queue, emitted after).
    if (identity !== undefined && (c.byIdentity.has(identity) || (c.backlogHigh !== undefined && this.#handedOver(c, packet, identity)))) {
      c.keep(identity)
      return null
    }
    if (c.ready && c.waiting.size === 0 && c.inflight + c.resendPending < this.#opts.maxInflight) {
      this.#take(c)
      return undefined
    }
    // A live delivery has no retain flag here (aedes clears it per subscription), so a keyed one is a queue entry;
    // a retained message sent on SUBSCRIBE has no identity and is not in the queue.
    c.hold({ packet, identity, stored: identity !== undefined && packet.retain !== true, adopted: false }, this.#opts.priorityOf(packet))
    c.keep(identity)
    return null
  }

  /**
   * Whether the live delivery `packet` is a copy of a backlog entry already
   * handed over: in flight (known here) or acknowledged (the store no longer
   * holds it). Asked only up to the backlog's highest counter: a live message
   * without a queue entry past it (one that raced its SUBSCRIBE) still goes.
   */
  #handedOver (c: Connection, packet: WindowPacket, identity: Identified): boolean {
    const high = c.backlogHigh?.get(identity.brokerId)
    if (high === undefined || identity.brokerCounter > high) return false
    if (c.sent.delete(identity)) return true
    return this.#isQueued !== undefined && !this.#isQueued(c.client, packet)
  }

  #sent (c: Connection, identity: Identified, packet: WindowPacket): void {
    c.sent.set(identity, packet)
    const check = this.#isQueued
    if (check === undefined || c.sent.size < 2 * this.#opts.maxInflight) return
    for (const p of c.sent.values()) if (hasIdentity(p) && !check(c.client, p)) c.sent.delete(p)
  }

  #holdInMemory (c: Connection, packet: WindowPacket): void {
    c.waiting.push({ packet, identity: undefined, stored: false, adopted: false }, this.#opts.priorityOf(packet))
    if (c.waiting.size <= this.#opts.maxQueued) return
    const victim = c.waiting.popLowest()
    if (victim !== undefined) this.#opts.onOverflow(c.client, victim.item.packet)
  }

  /** One more unacknowledged delivery on `c`. */
  #take (c: Connection): void {
    c.inflight++
    if (!c.closed) this.#inflight++
  }

  /** Hand waiting messages over while the window has room (not from inside a hand-over: it would loop back through the hook). */
  #pump (c: Connection): void {
    if (!c.ready || c.closed || c.pumping || c.waiting.size === 0) return
    c.pumping = true
    try {
      while (c.inflight + c.resendPending < this.#opts.maxInflight) {
        const held = c.next()
        if (held === undefined) return
        // A store entry goes without the retain flag: aedes skips the store update for retained packets.
        const packet: WindowPacket = held.stored && held.packet.retain ? { ...held.packet, retain: false } : held.packet
        c.releasing = true
        const delivered = this.#opts.deliver(c.client, packet)
        // Still set: an earlier hook withheld it, and aedes dropped it as it drops any withheld delivery.
        if (!c.releasing && held.adopted && held.identity !== undefined) this.#sent(c, held.identity, packet)
        c.releasing = false
        if (!delivered) {
          c.closed = true
          this.#inflight -= c.inflight
          return
        }
      }
    } finally {
      c.pumping = false
    }
  }

  #connection (client: ClientInfo): Connection {
    let c = this.#connections.get(client)
    if (c === undefined) {
      c = new Connection(client, this.#opts.mode)
      this.#connections.set(client, c)
      if (!client.clean) this.#persistent.set(client.id, c)
    }
    return c
  }
}
