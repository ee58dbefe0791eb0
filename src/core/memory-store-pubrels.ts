/**
 * [MQTT-4.3.3-1] with aedes-persistence's in-memory store, a persistent
 * session's QoS 2 handshakes complete when several are in flight.
 *
 * That store's `outgoingUpdate` takes an entry with the same broker id and
 * counter for the same message. A PUBREL has neither, so the second PUBREC's
 * PUBREL rewrote the packet id of the first PUBREL entry instead of replacing
 * its own PUBLISH: that PUBLISH stayed queued (sent again, a second time, on
 * the next reconnect) and the first handshake's entry never cleared. An
 * outside probe saw 499 of 2,000 QoS 2 messages never completed.
 *
 * So the store gets each PUBREL under an identity of its own, made of its
 * packet id (one in flight per id): it replaces the PUBLISH with that id, and
 * the PUBREL's re-send after a reconnect finds it again. What the store hands
 * back carries no such identity. (The nedb store matches PUBRELs right; the
 * Redis one finds them by packet id.)
 */
import type { Readable } from 'node:stream'
import { mapPushed, withOverrides } from './store-overrides.js'

interface Packet { cmd?: string, messageId?: number, brokerId?: unknown, brokerCounter?: unknown }

interface OutgoingStore {
  outgoingUpdate(client: object, packet: Packet): Promise<void>
  outgoingClearMessageId(client: object, packet: Packet): Promise<Packet | undefined>
  outgoingStream(client: object): Readable
}

/** Not a broker id aedes makes (a UUID, or the config's `id`). */
const PUBREL_BROKER_ID = '\u0000pubrel'

const bare = <P extends Packet | undefined> (packet: P): P => {
  if (packet?.brokerId !== PUBREL_BROKER_ID) return packet
  const { brokerId: _id, brokerCounter: _counter, ...rest } = packet
  return rest as P
}

export function withDistinctPubrels<T extends object> (store: T): T {
  const inner = store as unknown as OutgoingStore
  const overrides: OutgoingStore = {
    outgoingUpdate (client, packet) {
      if (packet.cmd !== 'pubrel' || packet.brokerId !== undefined) return inner.outgoingUpdate(client, packet)
      // a copy: aedes writes its own PUBREL object
      return inner.outgoingUpdate(client, { ...packet, brokerId: PUBREL_BROKER_ID, brokerCounter: packet.messageId })
    },
    outgoingClearMessageId: (client, packet) => inner.outgoingClearMessageId(client, packet).then(bare),
    outgoingStream: (client) => mapPushed<Packet>(inner.outgoingStream(client), bare),
  }
  return withOverrides(store, overrides)
}
