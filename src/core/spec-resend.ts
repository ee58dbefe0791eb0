/**
 * Re-sending a persistent session's unacknowledged messages on reconnect
 * (aedes `emptyQueue`, fed by the store's `outgoingStream`):
 *
 * - [MQTT-3.3.1-1] DUP 1 when re-delivering. aedes never sets it, and an
 *   in-memory record of what was sent does not survive a restart (or reach
 *   another node of a cluster). The store does: an entry that carries a
 *   packet id has been handed to the connection before (aedes stores the id
 *   right before it writes), so it goes out with DUP 1, and an entry without
 *   one with DUP 0 — the publisher's DUP is never copied [MQTT-3.3.1-3].
 * - [MQTT-2.3.1-4] a packet id stays in use until its exchange completes.
 *   aedes starts each connection's id counter at random and never checks ids
 *   in flight, so a new delivery after a reconnect can take the id of a
 *   re-sent message still unacknowledged. The ids the reconnect re-sends
 *   (PUBLISH and PUBREL) are recorded per connection until the store clears
 *   them (PUBACK, PUBCOMP), and a new delivery on that connection skips them.
 *   The counter's own wrap-around within one connection (65,535 deliveries
 *   while one stays unacknowledged) is aedes's and not covered.
 */
import type { Readable } from 'node:stream'
import { mapPushed } from './store-overrides.js'

/** A store entry as `outgoingStream` yields it. */
interface Entry {
  cmd?: string
  dup?: boolean
  messageId?: number | null
}

/** What `assignId` reads and writes of an aedes client: its id counter (lib/client.js `_nextId`). */
export interface CountingClient {
  _nextId: number
}

const MAX_PACKET_ID = 65535

export class Resends {
  /** aedes client → ids re-sent to it from the store and not yet acknowledged. */
  readonly #inFlight = new WeakMap<object, Set<number>>()
  /** Connections with re-sent ids in flight: 0 keeps `assignId` to one comparison. */
  #active = 0

  /**
   * `outgoingStream(client)`: the reconnect's entries, with DUP set and their
   * ids recorded. aedes reads this stream on every connect, clean or not, and
   * it is nearly always empty: the entries are marked as the store pushes
   * them, where a Transform and a pipeline per connection would cost more
   * than the queue.
   */
  stream (client: object, source: Readable): Readable {
    return mapPushed<Entry>(source, (entry) => this.#mark(client, entry))
  }

  #mark (client: object, entry: Entry): Entry {
    const id = entry.messageId
    const sent = typeof id === 'number' && id > 0
    if (sent) this.#record(client, id)
    if (entry.cmd !== undefined && entry.cmd !== 'publish') return entry
    return entry.dup === sent ? entry : { ...entry, dup: sent }
  }

  #record (client: object, id: number): void {
    let ids = this.#inFlight.get(client)
    if (ids === undefined) {
      ids = new Set()
      this.#inFlight.set(client, ids)
      this.#active++
    }
    ids.add(id)
  }

  /** The store clears an exchange (`outgoingClearMessageId`): its id is free again. */
  cleared (client: object, packet: { messageId?: number | null }): void {
    if (this.#active === 0) return
    const ids = this.#inFlight.get(client)
    if (ids === undefined || typeof packet.messageId !== 'number' || !ids.delete(packet.messageId)) return
    if (ids.size === 0) {
      this.#inFlight.delete(client)
      this.#active--
    }
  }

  /** The connection closed: whatever it had in flight goes back to the session's queue. */
  closed (client: object): void {
    if (this.#active > 0 && this.#inFlight.delete(client)) this.#active--
  }

  /**
   * A new QoS 1/2 delivery to `client` (`authorizeForward`, last): give it an
   * id not in flight. aedes's QoS packet keeps an id it is handed.
   */
  assignId (client: CountingClient, packet: { messageId?: number }): void {
    if (this.#active === 0) return
    const ids = this.#inFlight.get(client)
    if (ids === undefined) return
    let id = client._nextId
    for (let tries = 0; ids.has(id) && tries < MAX_PACKET_ID; tries++) id = id >= MAX_PACKET_ID ? 1 : id + 1
    client._nextId = id >= MAX_PACKET_ID ? 1 : id + 1
    packet.messageId = id
  }
}
