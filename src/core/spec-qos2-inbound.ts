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
 */

/** The aedes-persistence calls involved. */
export interface IncomingStore {
  incomingGetPacket(client: object, packet: { messageId?: number }): Promise<unknown>
  incomingStorePacket(client: object, packet: { messageId?: number }): Promise<void>
}

/** A missed lookup whose message is about to be stored, or is being stored. */
class Storing {
  started = false
  settle!: () => void
  readonly done = new Promise<void>((resolve) => { this.settle = resolve })
}

export class InboundQos2 {
  /** aedes client → packet id → the first PUBLISH with that id still on its way into the store. */
  readonly #storing = new WeakMap<object, Map<number, Storing>>()

  get (inner: IncomingStore, client: object, packet: { messageId?: number }): Promise<unknown> {
    const id = packet.messageId
    if (id === undefined) return inner.incomingGetPacket(client, packet)
    let ids = this.#storing.get(client)
    const first = ids?.get(id)
    if (first !== undefined) return first.done.then(() => inner.incomingGetPacket(client, packet))
    const lookup = inner.incomingGetPacket(client, packet)
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
    // Found: a re-send of a stored message, nothing to wait for. Missed: aedes stores it right
    // away (in its own reaction to this miss) unless it refuses it; give it until the next turn.
    lookup.then(finish, () => { setImmediate(() => { if (!storing.started) finish() }) })
    return lookup
  }

  store (inner: IncomingStore, client: object, packet: { messageId?: number }): Promise<void> {
    const storing = packet.messageId === undefined ? undefined : this.#storing.get(client)?.get(packet.messageId)
    const stored = inner.incomingStorePacket(client, packet)
    if (storing === undefined || storing.started) return stored
    storing.started = true
    const release = (): void => {
      const ids = this.#storing.get(client)
      if (ids?.get(packet.messageId!) === storing) ids.delete(packet.messageId!)
      storing.settle()
    }
    stored.then(release, release)
    return stored
  }
}
