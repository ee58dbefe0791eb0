/** A packet with a store identity: the broker that first routed it, and that broker's counter for it. */
export interface Identified {
  readonly brokerId: string
  readonly brokerCounter: number
}

/** Whether `packet` has a store identity (a retained copy sent on SUBSCRIBE has none). */
export function hasIdentity (packet: { brokerId?: unknown, brokerCounter?: unknown }): packet is Identified {
  return typeof packet.brokerId === 'string' && packet.brokerId !== '' && typeof packet.brokerCounter === 'number'
}

/**
 * Values by message identity, as nested maps (broker id → counter → value):
 * no key string is built per lookup, and counters hash as small integers.
 * A connection's window looks messages up several times per delivery, and a
 * reconnect indexes its whole backlog. Inner maps stay once created: there is
 * one per broker that ever routed a message here, and a window's small maps
 * empty and refill all the time.
 */
export class IdentityIndex<V> {
  readonly #brokers = new Map<string, Map<number, V>>()
  #size = 0

  get size (): number {
    return this.#size
  }

  get (packet: Identified): V | undefined {
    return this.#brokers.get(packet.brokerId)?.get(packet.brokerCounter)
  }

  has (packet: Identified): boolean {
    return this.#brokers.get(packet.brokerId)?.has(packet.brokerCounter) ?? false
  }

  set (packet: Identified, value: V): void {
    let counters = this.#brokers.get(packet.brokerId)
    if (counters === undefined) {
      counters = new Map()
      this.#brokers.set(packet.brokerId, counters)
    }
    const before = counters.size
    counters.set(packet.brokerCounter, value)
    this.#size += counters.size - before
  }

  delete (packet: Identified): boolean {
    const deleted = this.#brokers.get(packet.brokerId)?.delete(packet.brokerCounter) ?? false
    if (deleted) this.#size--
    return deleted
  }

  /** Every value, with no order promised. */
  * values (): IterableIterator<V> {
    for (const counters of this.#brokers.values()) yield * counters.values()
  }

  clear (): void {
    this.#brokers.clear()
    this.#size = 0
  }
}
