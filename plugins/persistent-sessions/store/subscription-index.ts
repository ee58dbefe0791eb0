import { createRequire } from 'node:module'
import type { SubscriptionInput, SubscriptionRecord, TopicSubscription } from './types.js'

/**
 * Persistent subscriptions in memory: per client (what a reconnecting client
 * gets back) and in a topic trie (who gets a copy of a publish). This is what
 * serves reads; the datafile only has to be written. The rules and counters
 * are those of aedes-persistence's memory store (asyncPersistence.js), which
 * the upstream suite pins: QoS 0 subscriptions are kept for the client but not
 * matched, and a client counts as long as it has an entry.
 */

interface QlobberSubLike {
  readonly subscriptionsCount: number
  add(topic: string, value: { clientId: string, topic: string, qos: number, rh?: number, rap?: boolean, nl?: boolean }): void
  remove(topic: string, value: { clientId: string, topic: string }): void
  match(topic: string): TopicSubscription[]
}

const require = createRequire(import.meta.url)
// qlobber ships CommonJS without types; this is the trie aedes-persistence uses.
const QlobberSub = require('qlobber/aedes/qlobber-sub.js') as new (options: object) => QlobberSubLike

/** MQTT topic syntax for qlobber. */
export const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' } as const

/** A filter no client can send (U+0000 [MQTT-4.7.3-2]): the core's own session marker, not a client's subscription. */
const isInternal = (filter: string): boolean => filter.startsWith('\u0000')

export class SubscriptionIndex {
  readonly #byClient = new Map<string, Map<string, SubscriptionRecord>>()
  readonly #trie = new QlobberSub(QLOBBER_OPTIONS)
  #clientsCount = 0
  #filters = 0

  /** Client subscriptions held, over all sessions (internal markers not counted). */
  get filters (): number {
    return this.#filters
  }

  /** Client subscriptions of one session (internal markers not counted). */
  filterCount (clientId: string): number {
    let n = 0
    for (const topic of this.#byClient.get(clientId)?.keys() ?? []) if (!isInternal(topic)) n++
    return n
  }

  /** Adds or replaces subscriptions; later entries for the same filter win. */
  add (clientId: string, subs: readonly SubscriptionInput[]): void {
    let stored = this.#byClient.get(clientId)
    if (stored === undefined) {
      stored = new Map()
      this.#byClient.set(clientId, stored)
      this.#clientsCount++
    }
    for (const sub of subs) {
      const previous = stored.get(sub.topic)
      if (previous === undefined && !isInternal(sub.topic)) this.#filters++
      const record: SubscriptionRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl }
      // MQTT 5 Subscription Identifier: kept for the client only when present.
      if (sub.subscriptionIdentifier !== undefined) record.subscriptionIdentifier = sub.subscriptionIdentifier
      if (sub.qos > 0) {
        this.#trie.add(sub.topic, { clientId, topic: sub.topic, qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl })
      } else if (previous !== undefined && previous.qos > 0) {
        this.#trie.remove(sub.topic, { clientId, topic: sub.topic })
      }
      stored.set(sub.topic, record)
    }
  }

  /** Removes filters; the client goes when its last one does. */
  remove (clientId: string, topics: readonly string[]): void {
    const stored = this.#byClient.get(clientId)
    if (stored === undefined) return
    for (const topic of topics) {
      const previous = stored.get(topic)
      if (previous === undefined) continue
      if (previous.qos > 0) this.#trie.remove(topic, { clientId, topic })
      if (!isInternal(topic)) this.#filters--
      stored.delete(topic)
    }
    if (stored.size === 0) {
      this.#clientsCount--
      this.#byClient.delete(clientId)
    }
  }

  /** Removes every subscription of a client; true if it had an entry. */
  clean (clientId: string): boolean {
    const stored = this.#byClient.get(clientId)
    if (stored === undefined) return false
    for (const [topic, sub] of stored) {
      if (sub.qos > 0) this.#trie.remove(topic, { clientId, topic })
      if (!isInternal(topic)) this.#filters--
    }
    this.#clientsCount--
    this.#byClient.delete(clientId)
    return true
  }

  /** A client's subscriptions, in the shape aedes restores them from. */
  list (clientId: string): Array<SubscriptionRecord & { topic: string }> {
    const stored = this.#byClient.get(clientId)
    if (stored === undefined) return []
    return [...stored].map(([topic, sub]) => ({ topic, ...sub }))
  }

  /** The live records of a client (for writing its document). */
  records (clientId: string): ReadonlyMap<string, SubscriptionRecord> | undefined {
    return this.#byClient.get(clientId)
  }

  has (clientId: string): boolean {
    return this.#byClient.has(clientId)
  }

  /** Subscriptions (QoS > 0) whose filter matches `topic`. */
  match (topic: string): TopicSubscription[] {
    return this.#trie.match(topic)
  }

  count (): { subsCount: number, clientsCount: number } {
    return { subsCount: this.#trie.subscriptionsCount, clientsCount: this.#clientsCount }
  }

  /** Clients subscribed to exactly this filter. */
  * clientsWith (topic: string): Generator<string> {
    for (const [clientId, stored] of this.#byClient) {
      if (stored.has(topic)) yield clientId
    }
  }
}
