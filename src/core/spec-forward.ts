/**
 * MQTT 3.1.1 rules for a PUBLISH on its way out to one client, applied in the
 * `authorizeForward` slot before any plugin hook. aedes 1.2 gets these wrong:
 *
 * - QoS: it downgrades to the granted QoS only when a subscription filter equals
 *   the topic, so a QoS 1 wildcard subscriber receives QoS 2 messages at QoS 2,
 *   and messages queued for an offline session keep the publisher's QoS.
 * - DUP: it copies the publisher's DUP flag to every subscriber and never sets
 *   it when it re-sends an unacknowledged message after a reconnect.
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
import { topicMatches } from './topic.js'

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
  subscriptions: Record<string, { qos: number } | undefined>
}

/** Most unacknowledged deliveries remembered per persistent session, for the DUP flag. */
const MAX_TRACKED_PER_SESSION = 10_000

/** `grantedQos` when the only matching subscriptions are leading wildcards and the topic starts with `$`. */
export const DOLLAR_ONLY = -2

/** True when aedes is re-sending a stored message (it writes the packet we were given). */
export function isStoredRedelivery (packet: ForwardPacket): boolean {
  return packet.messageId !== undefined
}

/**
 * The messages written to one persistent session and not acknowledged yet,
 * by identity (publishing broker → its counters): numbers in a Set per broker,
 * so a delivery builds no key string.
 */
class SentMessages {
  readonly #byBroker = new Map<string, Set<number>>()
  #size = 0

  add (brokerId: string, counter: number): void {
    let counters = this.#byBroker.get(brokerId)
    if (counters === undefined) {
      counters = new Set()
      this.#byBroker.set(brokerId, counters)
    }
    if (counters.has(counter)) return
    counters.add(counter)
    if (++this.#size <= MAX_TRACKED_PER_SESSION) return
    // Forget the oldest of this broker's (Set order is insertion order).
    const oldest = counters.values().next().value
    if (oldest !== undefined && counters.delete(oldest)) this.#size--
  }

  has (brokerId: string, counter: number): boolean {
    return this.#byBroker.get(brokerId)?.has(counter) === true
  }

  delete (brokerId: string, counter: number): void {
    if (this.#byBroker.get(brokerId)?.delete(counter) === true) this.#size--
  }
}

export class ForwardRules {
  /** Persistent session id → messages written to it and not yet acknowledged. */
  readonly #unacked = new Map<string, SentMessages>()

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
    // [MQTT-4.7.2-1] matched only through a leading wildcard: a `$` topic must not be delivered.
    if (grant === DOLLAR_ONLY) return null
    let qos = packet.qos
    // [MQTT-3.8.4-6] min(published, granted); the highest grant of overlapping subscriptions [MQTT-3.3.5-1].
    if (grant >= 0 && grant < qos) qos = grant as QoS
    // On the stored path a QoS 0 result cannot be written (the stored copy would never be
    // acknowledged and would come back on every reconnect): withhold it, aedes then drops it.
    if (stored && qos === 0 && packet.qos > 0) return null
    // [MQTT-3.3.1-1] DUP = 1 only when re-sending; [MQTT-3.3.1-2] never on QoS 0;
    // [MQTT-3.3.1-3] never copied from the incoming PUBLISH.
    const dup = stored && qos > 0 && this.#wasSent(client.id, packet)
    if (qos > 0 && !client.clean && !packet.retain) this.#remember(client.id, packet)
    if (stored) {
      packet.qos = qos
      packet.dup = dup
      return packet
    }
    if (qos === packet.qos && dup === packet.dup) return packet
    return { ...packet, qos, dup }
  }

  /** A QoS 1/2 delivery was acknowledged (PUBACK / PUBCOMP): it is no longer a re-send candidate. */
  acknowledged (clientId: string, packet: ForwardPacket | undefined): void {
    if (packet === undefined) return
    this.#unacked.get(clientId)?.delete(packet.brokerId ?? '', packet.brokerCounter ?? -1)
  }

  /** The session ended (clean session connect): forget what it was sent. */
  sessionEnded (clientId: string): void {
    this.#unacked.delete(clientId)
  }

  #remember (clientId: string, packet: ForwardPacket): void {
    let sent = this.#unacked.get(clientId)
    if (sent === undefined) {
      sent = new SentMessages()
      this.#unacked.set(clientId, sent)
    }
    sent.add(packet.brokerId ?? '', packet.brokerCounter ?? -1)
  }

  #wasSent (clientId: string, packet: ForwardPacket): boolean {
    return this.#unacked.get(clientId)?.has(packet.brokerId ?? '', packet.brokerCounter ?? -1) === true
  }
}

/**
 * The highest QoS granted by the client's subscriptions matching `topic`: -1
 * if none, `DOLLAR_ONLY` if the only matches were leading wildcards on a `$`
 * topic. The search stops once `enough` is reached; a subscription to the
 * topic itself that grants `enough` answers without walking the others.
 */
export function grantedQos (subscriptions: ForwardClient['subscriptions'], topic: string, enough = 3): number {
  const exact = subscriptions[topic]
  if (exact !== undefined && exact.qos >= enough) return exact.qos
  let qos = -1
  let blocked = false
  const dollar = topic.charCodeAt(0) === 36 /* $ */
  for (const filter in subscriptions) {
    if (topicMatches(filter, topic)) {
      const granted = subscriptions[filter]?.qos ?? 0
      if (granted > qos) qos = granted
      if (qos >= enough) break
    } else if (dollar && matchesIgnoringDollarRule(filter, topic)) {
      blocked = true
    }
  }
  return blocked && qos < 0 ? DOLLAR_ONLY : qos
}

function matchesIgnoringDollarRule (filter: string, topic: string): boolean {
  const first = filter.charCodeAt(0)
  if (first !== 43 /* + */ && first !== 35 /* # */) return false
  // Put a neutral first level in place of the `$` level and match again.
  const slash = topic.indexOf('/')
  const rest = slash < 0 ? '' : topic.slice(slash)
  return topicMatches(filter, 'x' + rest)
}
