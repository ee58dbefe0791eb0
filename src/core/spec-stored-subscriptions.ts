/**
 * A persistent session stores its subscriptions as granted [MQTT-3.8.4-1],
 * [MQTT-3.9.3-1]: what the SUBACK said, and what routing uses while the
 * client is connected.
 *
 * aedes's `storeSubscriptions` (lib/handlers/subscribe.js) runs once per
 * filter, right after that filter's `authorizeSubscribe`, and stores the
 * packet's *whole* filter list each time, as requested. So the store got
 * filters refused with 0x80 and filters whose authorization had not
 * finished, at the requested QoS and topic rather than a hook's rewrite.
 * Offline, such a filter queued messages that were withheld on reconnect —
 * and counted toward `maxQueued`, pushing out the messages the client was
 * granted.
 *
 * hook-slots reports each decision here; the core store then passes only
 * the decided grants, under the requested filter at the granted QoS, each
 * once. Each filter's own store call comes after its decision, so every
 * grant is stored; passing one again in a slower sibling's call could store
 * it over a later SUBSCRIBE of the same filter. aedes may store before
 * later filters of the packet reach `authorizeSubscribe` at all, so a list
 * holding any decided entry is a SUBSCRIBE's and keeps its grants only; a
 * list with none (the session marker, the upstream suite's calls) passes as
 * it is.
 *
 * A returning session's stored filters are asked about again (aedes restores
 * them through `authorizeSubscribe`) and one refused now — an ACL or
 * `denySubscribe` tightened across a restart — is not routed, but stayed in
 * the store: it went on queueing messages, and they were delivered on every
 * reconnect. Such a filter is now removed from the store (hook-slots); what it
 * queued before goes out once more. (Withholding that needs a store that can
 * clear a message never handed out: the redis and memory stores cannot, so it
 * came back, or another message went; an ACL's read rules withhold it.) A
 * hook that *fails* on return decides nothing: the store keeps the filter,
 * and the connection is closed before CONNACK (there is no SUBACK to refuse
 * the filter in, and the client told its session is present would not
 * subscribe again), so the client comes back.
 */
interface Subscription {
  readonly topic: string
  readonly qos: number
}

export class StoredSubscriptions {
  /** SUBSCRIBE entry → its grant (null: refused, or its grant already passed to the store; undefined: still being decided). */
  readonly #decisions = new WeakMap<object, Subscription | null | undefined>()
  /** Entries of the lists the store returned for returning sessions. */
  readonly #restoring = new WeakSet<object>()

  /** The store returned these subscriptions of a returning session; aedes asks about each again. */
  restoring (subs: readonly object[]): void {
    for (const sub of subs) this.#restoring.add(sub)
  }

  isRestoring (sub: object): boolean {
    return this.#restoring.has(sub)
  }

  /** `authorizeSubscribe` started on this entry of a SUBSCRIBE. */
  deciding (requested: object): void {
    this.#decisions.set(requested, undefined)
  }

  /** `authorizeSubscribe` ended: `granted` is what aedes subscribes, null if refused. */
  decided (requested: object, granted: Subscription | null): void {
    this.#decisions.set(requested, granted)
  }

  /** What `addSubscriptions` should store of the list aedes passes. */
  toStore<T extends Subscription> (subs: readonly T[]): readonly T[] {
    if (!subs.some((sub) => this.#decisions.has(sub))) return subs
    const out: T[] = []
    for (const sub of subs) {
      const granted = this.#decisions.get(sub)
      if (granted === undefined || granted === null) continue
      out.push(granted as T)
      // Passed once: a later store call for this packet (a slower sibling's) must not store it again
      // over a newer SUBSCRIBE of the same filter.
      this.#decisions.set(sub, null)
    }
    return out
  }
}
