/**
 * The core's own decorator around the session store, applied outermost (after
 * every plugin's `decoratePersistence`), so it sees each call exactly as aedes
 * makes it. It carries the MQTT rules that can only be kept at the store:
 *
 * - `outgoingEnqueueCombi`: release the held PUBACK once a QoS 1 message is
 *   stored (durable-acks.ts); queue with RETAIN 0 [MQTT-3.3.1-9] (spec-retained.ts).
 * - `outgoingUpdate`: store a retained message sent on SUBSCRIBE to a
 *   persistent session before aedes writes it [MQTT-4.3.3-1] (spec-retained.ts).
 * - `outgoingStream` / `outgoingClearMessageId`: DUP on re-sends and packet ids
 *   in flight after a reconnect [MQTT-3.3.1-1], [MQTT-2.3.1-4] (spec-resend.ts).
 * - `addSubscriptions` / `subscriptionsByClient`: only the subscriptions
 *   granted, as granted, and asked about again on return [MQTT-3.8.4-1]
 *   (spec-stored-subscriptions.ts).
 * - `incomingGetPacket` / `incomingStorePacket` / `incomingDelPacket`: one
 *   delivery per inbound QoS 2 message [MQTT-4.3.3-2], and no store lookup
 *   for a clean session's new ones (spec-qos2-inbound.ts).
 *
 * Every other call reaches the store untouched.
 */
import type { Readable } from 'node:stream'
import type { DurableAcks } from './durable-acks.js'
import type { InboundQos2 } from './spec-qos2-inbound.js'
import type { Resends } from './spec-resend.js'
import type { RetainedDeliveries, RetainedPacket } from './spec-retained.js'
import type { StoredSubscriptions } from './spec-stored-subscriptions.js'
import { withOverrides } from './store-overrides.js'

/** The aedes-persistence 11 calls the decorator changes. */
interface Store {
  addSubscriptions(client: object, subs: ReadonlyArray<{ topic: string, qos: number }>): Promise<void>
  subscriptionsByClient(client: object): Promise<object[]>
  outgoingEnqueue(sub: { clientId: string }, packet: object): Promise<void>
  outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: RetainedPacket): Promise<void>
  outgoingUpdate(client: { id: string }, packet: RetainedPacket): Promise<void>
  outgoingClearMessageId(client: object, packet: { messageId?: number }): Promise<unknown>
  outgoingStream(client: object): Readable
  incomingGetPacket(client: object, packet: { messageId?: number }): Promise<unknown>
  incomingStorePacket(client: object, packet: { messageId?: number }): Promise<void>
  incomingDelPacket(client: object, packet: { messageId?: number }): Promise<unknown>
}

export interface CoreStoreParts {
  /** Set only when the store is durable. */
  acks: DurableAcks | undefined
  retained: RetainedDeliveries
  resends: Resends
  qos2: InboundQos2
  stored: StoredSubscriptions
}

export function decorateCoreStore (store: object, parts: CoreStoreParts): object {
  const inner = store as Store
  const { acks, retained, resends, qos2, stored } = parts
  const overrides: Omit<Store, 'outgoingEnqueue'> = {
    outgoingEnqueueCombi (subs, packet) {
      const queued = retained.queued(packet)
      const ack = acks?.claim(packet)
      const stored = inner.outgoingEnqueueCombi(subs, queued)
      // A decorator below may have set metadata on the copy (a priority): the live message carries it too.
      if (queued !== packet && queued.properties !== packet.properties) packet.properties = queued.properties
      if (ack === undefined) return stored
      return stored.then(() => { acks!.release(ack) }, (err: unknown) => {
        acks!.fail(ack)
        throw err
      })
    },
    addSubscriptions (client, subs) {
      const granted = stored.toStore(subs)
      return granted.length === 0 ? Promise.resolve() : inner.addSubscriptions(client, granted)
    },
    subscriptionsByClient: (client) => inner.subscriptionsByClient(client).then((subs) => {
      stored.restoring(subs)
      return subs
    }),
    outgoingUpdate (client, packet) {
      if (retained.isPending(packet)) return retained.store(inner, client, packet)
      return inner.outgoingUpdate(client, packet)
    },
    outgoingClearMessageId (client, packet) {
      resends.cleared(client, packet)
      return inner.outgoingClearMessageId(client, packet)
    },
    outgoingStream: (client) => resends.stream(client, inner.outgoingStream(client)),
    incomingGetPacket: (client, packet) => qos2.get(inner, client, packet),
    incomingStorePacket: (client, packet) => qos2.store(inner, client, packet),
    incomingDelPacket: (client, packet) => qos2.delete(inner, client, packet),
  }
  return withOverrides(store, overrides)
}
