/**
 * Retained messages and persistent sessions, which aedes 1.2 gets wrong:
 *
 * - [MQTT-4.3.3-1] / [MQTT-4.4.0-1] a retained QoS 1/2 message sent on
 *   SUBSCRIBE to a persistent session (clean 0) never reaches the store:
 *   aedes's `deliverQoS` skips `outgoingUpdate` for `packet.retain`. At QoS 2
 *   the client's PUBREC then makes `outgoingUpdate(pubrel)` fail ("no such
 *   packet"), the connection is closed and the message lost (aedes#1003); at
 *   QoS 1 an unacknowledged copy is not re-sent after a reconnect. Fix: the
 *   `authorizeForward` slot hands aedes that delivery with RETAIN 0, so aedes
 *   does call `outgoingUpdate` and waits for it before writing; the core store
 *   decorator then queues the message for the session with its packet id and
 *   sets RETAIN back to 1 on the very packet aedes writes next [MQTT-3.3.1-8].
 *   The stored copy keeps RETAIN 1, so a re-send after a reconnect is the same
 *   PUBLISH again (as Mosquitto re-sends it).
 * - [MQTT-3.3.1-9] a message queued for a session because it matched an
 *   established subscription is sent with RETAIN 0, but aedes queues the
 *   publisher's packet as it came (RETAIN 1 for a retained publish), and a
 *   re-send after a reconnect carries it. Fix: queue it with RETAIN 0.
 */

/** The fields these rules read and write (aedes-packet's shape). */
export interface RetainedPacket {
  cmd?: string
  topic: string
  payload?: unknown
  qos: number
  retain: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string | null
  brokerCounter?: number
  properties?: unknown
}

/** The aedes-persistence calls `store` makes. */
export interface OutgoingStore {
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>
  outgoingUpdate(client: { id: string }, packet: object): Promise<void>
}

export class RetainedDeliveries {
  readonly #brokerId: string
  /** brokerCounter of each retained copy handed to aedes with RETAIN 0, until its `outgoingUpdate`. */
  readonly #pending = new Set<number>()

  constructor (brokerId: string) {
    this.#brokerId = brokerId
  }

  /**
   * `authorizeForward`, after every rule, for a live QoS 1/2 delivery with
   * RETAIN 1: aedes sets it only on the retained messages it sends on
   * SUBSCRIBE (with `brokerId` null). Returns the packet to hand aedes.
   */
  forward<P extends RetainedPacket> (client: { clean: boolean }, packet: P): P {
    if (client.clean || packet.brokerId !== null || packet.brokerCounter === undefined) return packet
    this.#pending.add(packet.brokerCounter)
    return { ...packet, retain: false }
  }

  /** Is this `outgoingUpdate` one of those deliveries (aedes's QoS packet: it took the broker's id)? */
  isPending (packet: RetainedPacket): boolean {
    return this.#pending.size > 0 && packet.cmd === 'publish' && packet.brokerId === this.#brokerId &&
      packet.brokerCounter !== undefined && this.#pending.has(packet.brokerCounter)
  }

  /** Queue it for the session with its packet id, then let aedes write it with RETAIN 1. */
  async store (inner: OutgoingStore, client: { id: string }, packet: RetainedPacket): Promise<void> {
    this.#pending.delete(packet.brokerCounter!)
    const { topic, payload, qos, brokerId, brokerCounter, properties } = packet
    const entry = { cmd: 'publish', topic, payload, qos, retain: true, dup: false, brokerId, brokerCounter, ...(properties !== undefined ? { properties } : {}) }
    await inner.outgoingEnqueue({ clientId: client.id }, entry)
    await inner.outgoingUpdate(client, packet)
    packet.retain = true
  }

  /** `outgoingEnqueueCombi`: what to queue for the sessions [MQTT-3.3.1-9]. */
  queued<P extends RetainedPacket> (packet: P): P {
    return packet.retain ? { ...packet, retain: false } : packet
  }
}
