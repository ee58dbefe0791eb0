/**
 * [MQTT-3.3.5-1] A message that several of a client's subscriptions match
 * goes out once, at the highest QoS they grant.
 *
 * aedes delivers one copy per client, through whichever matching subscription
 * its emitter calls first, and then lowers that copy to the QoS of the
 * client's subscription to the topic itself, if it has one (lib/client.js,
 * `deliverQoS`: `that.subscriptions[packet.topic].qos`). So with `ov/b` at
 * QoS 1 and `#` at QoS 2, a QoS 2 message to `ov/b` arrived at QoS 1; with
 * `x/exact` at QoS 0 and `x/#` at QoS 1 it arrived at QoS 0, and a persistent
 * session kept the stored copy, which nothing acknowledged, and got it again
 * on every reconnect.
 *
 * The forwarding rules (spec-forward.ts) already give every live delivery
 * its QoS from all the matching filters, so aedes's lowering is only ever
 * wrong. Before aedes would lower a delivery, the entry of the topic's own
 * filter is marked: its `qos` reads NEVER_LOWER to aedes, and its grant is
 * kept beside it, for `grantedQos`. A SUBSCRIBE to that filter again finds a
 * QoS that differs from any request, so aedes replaces the entry, with the
 * delivery function of the new grant (which it does for a changed QoS anyway
 * [MQTT-3.8.4-3]).
 */
import { topicMatches } from './topic.js'

/** A subscription entry's own grant once its `qos` is NEVER_LOWER. */
const OWN = Symbol('midge.ownGrant')

/** Above every QoS: aedes lowers a delivery to the entry's `qos` only when it is below the message's. */
const NEVER_LOWER = 3

/** aedes keeps a client's subscriptions here (filter → granted QoS); not in its public types. */
export type Subscriptions = Record<string, { qos: number, [OWN]?: number } | undefined>
type Entry = NonNullable<Subscriptions[string]>

/** `grantedQos` when the only matching subscriptions are leading wildcards and the topic starts with `$`. */
export const DOLLAR_ONLY = -2

/**
 * A live delivery at `qos` is on its way to the client: aedes lowers it, in
 * an immediate of its own queued next, to the `qos` of the entry of `topic`'s
 * own filter. That entry is marked in an immediate queued before aedes's
 * (immediates run in order, with nothing between these two). Marked now, it
 * could be gone by then: a SUBSCRIBE of that filter meanwhile replaces it.
 */
export function keepFromLowering (subscriptions: Subscriptions, topic: string, qos: number): void {
  const entry = subscriptions[topic]
  if (entry !== undefined && grantOf(entry) < qos) setImmediate(neverLower, subscriptions, topic)
}

function neverLower (subscriptions: Subscriptions, topic: string): void {
  const entry = subscriptions[topic]
  if (entry === undefined || entry.qos === NEVER_LOWER) return
  entry[OWN] = entry.qos
  entry.qos = NEVER_LOWER
}

/** What the client was granted for this entry's filter. */
function grantOf (entry: Entry): number {
  return entry.qos === NEVER_LOWER ? entry[OWN] ?? 0 : entry.qos
}

/** What `deliverOverlapsAtTheirQos` uses of an aedes 1.2 Client: its QoS 0 delivery function and its subscriptions. */
interface OverlapClient {
  deliver0(packet: { qos: number, topic: string }, done: () => void): void
  readonly subscriptions: Subscriptions
}

/**
 * A QoS 0 subscription delivers through `deliver0`, which forces QoS 0 after
 * `authorizeForward` has counted the message as QoS 1/2. So with `dev/#` at
 * QoS 0 and `dev/cmd` at QoS 2 the commands arrived at QoS 0, were never
 * acknowledged, and after `mqtt.maxInflight` of them the inflight window sent
 * the client no QoS 1/2 message any more. A QoS 1/2 message that a QoS 1/2
 * subscription of the client also matches is left to that subscription: its
 * call comes in the same routing. (Not handed to `deliverQoS` here: aedes's
 * duplicate check would stop that call, and for a persistent session it then
 * clears the stored copy the delivery is still to write its packet id to.)
 */
export function deliverOverlapsAtTheirQos (client: OverlapClient): void {
  const deliver0 = client.deliver0
  client.deliver0 = (packet, done) => {
    if (packet.qos > 0 && grantedQos(client.subscriptions, packet.topic, 1) > 0) setImmediate(done)
    else deliver0(packet, done)
  }
}

/**
 * The highest QoS granted by the client's subscriptions matching `topic`: -1
 * if none, `DOLLAR_ONLY` if the only matches were leading wildcards on a `$`
 * topic. The search stops once `enough` is reached; a subscription to the
 * topic itself that grants `enough` answers without walking the others.
 */
export function grantedQos (subscriptions: Subscriptions, topic: string, enough = 3): number {
  const exact = subscriptions[topic]
  if (exact !== undefined && grantOf(exact) >= enough) return grantOf(exact)
  let qos = -1
  let blocked = false
  const dollar = topic.charCodeAt(0) === 36 /* $ */
  for (const filter in subscriptions) {
    if (topicMatches(filter, topic)) {
      const entry = subscriptions[filter]
      const granted = entry === undefined ? 0 : grantOf(entry)
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
