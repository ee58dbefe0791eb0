/**
 * MQTT 3.1.1 rules for a PUBLISH on its way out to one client, applied in the
 * `authorizeForward` slot before any plugin hook. aedes 1.2 gets these wrong:
 *
 * - QoS: it downgrades to the granted QoS only when a subscription filter equals
 *   the topic, so a QoS 1 wildcard subscriber receives QoS 2 messages at QoS 2,
 *   and messages queued for an offline session keep the publisher's QoS.
 * - DUP: it copies the publisher's DUP flag to every subscriber (and never sets
 *   it when it re-sends an unacknowledged message after a reconnect: see
 *   spec-resend.ts, which marks those at the store).
 * - `$` topics: messages queued for a persistent session skip the leading
 *   wildcard check, so `#` receives `$foo/bar` after a reconnect.
 *
 * aedes calls `authorizeForward` on two paths. Live delivery passes a packet
 * without a packet id and uses the returned copy. Re-sending a session's queue
 * on reconnect passes a packet that already has its packet id, then writes
 * *that* packet and reads the return value only as yes/no; there the rules
 * change the packet in place (it is a fresh copy owned by that one delivery).
 */
import type { QoS } from './message.js'
import { DOLLAR_ONLY, grantedQos, keepFromLowering, type Subscriptions } from './spec-overlap.js'

/** The packet fields these rules read and write (aedes-packet's shape). */
export interface ForwardPacket {
  cmd?: string
  topic: string
  qos: QoS
  dup: boolean
  retain: boolean
  messageId?: number
  brokerId?: string | null
  brokerCounter?: number
}

/** What the rules read of an aedes client. */
export interface ForwardClient {
  id: string
  clean: boolean
  /** aedes keeps a client's subscriptions here (filter → granted QoS); not in its public types. */
  subscriptions: Subscriptions
}

/** True when aedes is re-sending a stored message (it writes the packet we were given). */
export function isStoredRedelivery (packet: ForwardPacket): boolean {
  return packet.messageId !== undefined
}

export class ForwardRules {
  /**
   * The packet to write, or null to withhold it. On the stored-redelivery path
   * the result is `packet` itself, changed in place.
   */
  apply<P extends ForwardPacket> (client: ForwardClient, packet: P): P | null {
    const stored = isStoredRedelivery(packet)
    // The common case, cheaply: live QoS 0 needs only the DUP rule. Not for `$` topics: aedes keeps them
    // from leading wildcards on live routing, but not in the retained messages it sends on SUBSCRIBE.
    if (!stored && packet.qos === 0 && packet.topic.charCodeAt(0) !== 36 /* $ */) return packet.dup ? { ...packet, dup: false } : packet
    const grant = grantedQos(client.subscriptions, packet.topic, stored ? 3 : packet.qos)
    // [MQTT-4.7.2-1] matched only through a leading wildcard: a `$` topic must not be delivered. Nor
    // one sent as retained for a SUBSCRIBE (brokerId null) that no filter matches by then: aedes sends
    // a `#` SUBSCRIBE the retained `$SYS` messages too, also after its UNSUBSCRIBE or the close.
    if (grant === DOLLAR_ONLY || (grant < 0 && packet.brokerId === null && packet.topic.charCodeAt(0) === 36 /* $ */)) return null
    let qos = packet.qos
    // [MQTT-3.8.4-6] min(published, granted); the highest grant of overlapping subscriptions [MQTT-3.3.5-1].
    if (grant >= 0 && grant < qos) qos = grant as QoS
    // On the stored path a QoS 0 result cannot be written (the stored copy would never be
    // acknowledged and would come back on every reconnect): withhold it, aedes then drops it.
    if (stored && qos === 0 && packet.qos > 0) return null
    if (stored) {
      // [MQTT-3.3.1-1] DUP 1 when re-sending: the core store decorator set it on the entries
      // handed out before the disconnect (spec-resend.ts); [MQTT-3.3.1-2] never on QoS 0.
      packet.qos = qos
      packet.dup = qos > 0 && packet.dup
      return packet
    }
    // aedes would lower a live delivery to the QoS of a subscription to the topic itself (spec-overlap.ts).
    keepFromLowering(client.subscriptions, packet.topic, qos)
    // [MQTT-3.3.1-3] a new delivery never copies the incoming DUP.
    if (qos === packet.qos && !packet.dup) return packet
    return { ...packet, qos, dup: false }
  }
}
