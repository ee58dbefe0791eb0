import type { PriorityRule } from '../../src/config/sections/priority.js'
import { topicMatches } from '../../src/core/topic.js'

/** Who published a message, as far as rules care. Both undefined for the broker's own publishes. */
export interface Publisher {
  clientId?: string | undefined
  username?: string | undefined
}

/** Most topics remembered by the topic-only lookup; beyond it the cache starts over. */
const TOPIC_CACHE_SIZE = 10_000

/**
 * The `priority.rules` of the config, compiled: the first rule whose topic
 * filter matches the topic and whose `clientId` / `username` (when set) equal
 * the publisher's wins; no match gives `defaultPriority`. A rule that names a
 * client id or username never matches the broker's own publishes.
 */
export class PriorityRules {
  readonly #rules: readonly PriorityRule[]
  readonly #default: number
  /** Topic → priority for publisher-independent lookups (repeated topics are the common case). */
  readonly #byTopic = new Map<string, number>()

  constructor (rules: readonly PriorityRule[], defaultPriority: number) {
    this.#rules = rules
    this.#default = defaultPriority
  }

  /** True if some rule looks at the publisher, so priorities must be set where it is known (`authorizePublish`). */
  get needsPublisher (): boolean {
    return this.#rules.some((r) => r.clientId !== undefined || r.username !== undefined)
  }

  /** The priority of a message on `topic` from `publisher` (omit it for the broker's own publishes). */
  priorityOf (topic: string, publisher?: Publisher): number {
    if (this.#rules.length === 0) return this.#default
    if (publisher === undefined || (publisher.clientId === undefined && publisher.username === undefined)) return this.#topicOnly(topic)
    for (const rule of this.#rules) {
      if (rule.clientId !== undefined && rule.clientId !== publisher.clientId) continue
      if (rule.username !== undefined && rule.username !== publisher.username) continue
      if (topicMatches(rule.filter, topic)) return rule.priority
    }
    return this.#default
  }

  #topicOnly (topic: string): number {
    const cached = this.#byTopic.get(topic)
    if (cached !== undefined) return cached
    let found = this.#default
    for (const rule of this.#rules) {
      if (rule.clientId !== undefined || rule.username !== undefined) continue
      if (topicMatches(rule.filter, topic)) {
        found = rule.priority
        break
      }
    }
    if (this.#byTopic.size >= TOPIC_CACHE_SIZE) this.#byTopic.clear()
    this.#byTopic.set(topic, found)
    return found
  }
}
