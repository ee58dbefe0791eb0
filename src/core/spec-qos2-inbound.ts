/**
 * [MQTT-4.3.3-2] a QoS 2 message is delivered onwards once, even when the
 * client re-sends it (DUP 1) before it got the PUBREC.
 *
 * aedes checks for a re-send with `incomingGetPacket` and stores a new message
 * with `incomingStorePacket` before publishing it. But it handles every packet
 * of one socket read at once, so when a PUBLISH and its re-send arrive
 * together, the second lookup runs before the first message is stored: both
 * miss, both are published. Fix, in the core store decorator: while a lookup
 * for (connection, packet id) has missed and its message is being stored, a
 * second lookup for the same id waits for that store and then looks again
 * (and finds it: aedes answers PUBREC without publishing).
 *
 * The lookup on every QoS 2 PUBLISH is also its biggest cost: a store answers
 * a miss by throwing, and a fresh Error with its stack costs more than the
 * rest of the message's handling. For a clean session it need not be asked:
 * aedes empties the session's inbound store when it connects (`cleanIncoming`),
 * so the store holds exactly what this connection stored and has not
 * released, which is tracked here. A miss on those is answered at once, with
 * one shared error.
 */

/** The aedes-persistence calls involved. */
export interface IncomingStore {
  incomingGetPacket(client: object, packet: { messageId?: number }): Promise<unknown>
  incomingStorePacket(client: object, packet: { messageId?: number }): Promise<void>
  incomingDelPacket(client: object, packet: { messageId?: number }): Promise<unknown>
  cleanIncoming?: unknown
}

/** What a store rejects a lookup with when it holds no such packet; aedes only checks that it rejected. */
const NOT_STORED = new Error('no such packet')

/** A missed lookup whose message is about to be stored, or is being stored. */
class Storing {
  started = false
  #waiters: Array<() => void> | undefined

  /** Resolves once the message is stored (or was never going to be). Allocated only for a re-send in the same read. */
  stored (): Promise<void> {
    return new Promise((resolve) => { (this.#waiters ??= []).push(resolve) })
  }

  settle (): void {
    const waiters = this.#waiters
    this.#waiters = undefined
    if (waiters !== undefined) for (const resolve of waiters) resolve()
  }
}

export class InboundQos2 {
  /** aedes client → packet id → the first PUBLISH with that id still on its way into the store. */
  readonly #storing = new WeakMap<object, Map<number, Storing>>()
  /** Clean-session aedes client → the ids it stored and has not released: everything the store holds for it. */
  readonly #held = new WeakMap<object, Set<number>>()
  /** The store empties a clean session's inbound messages on connect, so `#held` is the whole truth (known at the first call). */
  #authoritative: boolean | undefined

  get (inner: IncomingStore, client: object, packet: { messageId?: number }): Promise<unknown> {
    return this.#get(inner, client, packet, true)
  }

  /** `direct`: the promise returned is the one aedes reacts to (not one derived from it). */
  #get (inner: IncomingStore, client: object, packet: { messageId?: number }, direct: boolean): Promise<unknown> {
    const id = packet.messageId
    if (id === undefined) return inner.incomingGetPacket(client, packet)
    let ids = this.#storing.get(client)
    const first = ids?.get(id)
    // Looked up again through here: if the first copy's store failed, this one becomes the first.
    if (first !== undefined) return first.stored().then(() => this.#get(inner, client, packet, false))
    const held = this.#heldBy(inner, client)
    const lookup = held === undefined || held.has(id) ? inner.incomingGetPacket(client, packet) : Promise.reject(NOT_STORED)
    const storing = new Storing()
    if (ids === undefined) {
      ids = new Map()
      this.#storing.set(client, ids)
    }
    ids.set(id, storing)
    const finish = (): void => {
      if (ids.get(id) === storing) ids.delete(id)
      storing.settle()
    }
    const unlessStoring = (): void => { if (!storing.started) finish() }
    // Found: a re-send of a stored message, nothing to wait for. Missed: aedes stores it in its own
    // reaction to this miss, unless it refuses it. That reaction runs right after this one when aedes
    // holds `lookup` itself; a few promise hops later when it holds a promise derived from it.
    lookup.then(finish, () => { if (direct) queueMicrotask(unlessStoring); else setImmediate(unlessStoring) })
    return lookup
  }

  store (inner: IncomingStore, client: object, packet: { messageId?: number }): Promise<void> {
    const id = packet.messageId
    const storing = id === undefined ? undefined : this.#storing.get(client)?.get(id)
    const stored = inner.incomingStorePacket(client, packet)
    const held = id === undefined ? undefined : this.#heldBy(inner, client)
    held?.add(id!)
    if (storing === undefined || storing.started) return stored
    storing.started = true
    const release = (): void => {
      const ids = this.#storing.get(client)
      if (ids?.get(id!) === storing) ids.delete(id!)
      storing.settle()
    }
    stored.then(release, () => {
      held?.delete(id!) // not stored after all
      release()
    })
    return stored
  }

  delete (inner: IncomingStore, client: object, packet: { messageId?: number }): Promise<unknown> {
    const deleted = inner.incomingDelPacket(client, packet)
    const held = this.#held.get(client)
    const id = packet.messageId
    if (held === undefined || id === undefined) return deleted
    // Released only once the store let go of it: a failed delete leaves the message stored.
    return deleted.then((result) => {
      held.delete(id)
      return result
    })
  }

  #heldBy (inner: IncomingStore, client: object): Set<number> | undefined {
    this.#authoritative ??= typeof inner.cleanIncoming === 'function'
    if (!this.#authoritative || (client as { clean?: unknown }).clean !== true) return undefined
    let held = this.#held.get(client)
    if (held === undefined) {
      held = new Set()
      this.#held.set(client, held)
    }
    return held
  }
}
