import type { BrokerEvents } from '../core/events.js'
import type { ClientInfo } from '../core/message.js'

/**
 * Client subscriptions counted from broker events: the filters SUBSCRIBE
 * granted, less UNSUBSCRIBE and ended sessions. A clean session's
 * subscriptions belong to its connection and end with it [MQTT-3.1.2-6]; a
 * persistent session's belong to its client id and end when a clean session
 * of that id starts. Keyed so, the late close of a taken-over connection
 * takes nothing from its successor.
 *
 * `persistent: false` counts clean sessions only, for a session store that
 * counts the persistent ones itself: it knows them across restarts and expiry.
 */
export class SubscriptionTally {
  #count = 0
  readonly #filters = new Map<ClientInfo | string, Set<string>>()
  readonly #persistent: boolean

  constructor (options: { persistent: boolean } = { persistent: true }) {
    this.#persistent = options.persistent
  }

  get count (): number {
    return this.#count
  }

  /** Start counting; the function returned stops. */
  attach (events: BrokerEvents): () => void {
    const toggle = (on: boolean): void => {
      const method = on ? 'on' : 'off'
      events[method]('clientReady', this.#onReady)[method]('clientDisconnect', this.#onDisconnect)
      events[method]('subscribe', this.#onSubscribe)[method]('unsubscribe', this.#onUnsubscribe)
    }
    toggle(true)
    return () => { toggle(false) }
  }

  #key (client: ClientInfo): ClientInfo | string | undefined {
    if (client.clean) return client
    return this.#persistent ? client.id : undefined
  }

  readonly #onReady = (client: ClientInfo): void => {
    // A clean session discards the persistent session of its client id.
    if (client.clean) this.#drop(client.id)
  }

  readonly #onDisconnect = (client: ClientInfo): void => {
    if (client.clean) this.#drop(client)
  }

  readonly #onSubscribe = (subscriptions: ReadonlyArray<{ topic: string, qos: number }>, client: ClientInfo): void => {
    const key = this.#key(client)
    if (key === undefined) return
    let filters = this.#filters.get(key)
    for (const { topic, qos } of subscriptions) {
      if (qos === 128) continue
      if (filters === undefined) {
        filters = new Set()
        this.#filters.set(key, filters)
      }
      // Subscribing again to a filter replaces the subscription [MQTT-3.8.4-3].
      if (!filters.has(topic)) {
        filters.add(topic)
        this.#count++
      }
    }
  }

  readonly #onUnsubscribe = (topics: readonly string[], client: ClientInfo): void => {
    const key = this.#key(client)
    const filters = key === undefined ? undefined : this.#filters.get(key)
    if (key === undefined || filters === undefined) return
    for (const topic of topics) if (filters.delete(topic)) this.#count--
    if (filters.size === 0) this.#filters.delete(key)
  }

  #drop (key: ClientInfo | string): void {
    const filters = this.#filters.get(key)
    if (filters === undefined) return
    this.#count -= filters.size
    this.#filters.delete(key)
  }
}
