import type { BrokerEventMap, BrokerEvents, DropReason } from '../core/events.js'
import type { ClientInfo, Message } from '../core/message.js'
import { SubscriptionTally } from './subscription-tally.js'

/** Every drop reason the core defines, so each series exists (at 0) from the start. */
export const DROP_REASONS: readonly DropReason[] = ['expired', 'queue_full', 'max_attempts', 'no_subscribers', 'slow_consumer']

/**
 * The broker's figures as plain numbers, bumped by broker events. Listeners
 * on per-message events (`publish`, `deliver`) only increment a field: no
 * allocation, no labels, no strings; prom-client reads the fields when it
 * collects (scrape or `$SYS` tick).
 *
 * What counts, and how it differs from Mosquitto:
 * - `publishReceived`: PUBLISH packets from clients (wills included, as they
 *   are client messages). Messages the broker publishes itself (`$SYS`,
 *   aedes's heartbeat, plugins' `broker.publish`) never count, as in
 *   Mosquitto, where only packets read from a socket do.
 * - `publishSent`: PUBLISHes written to clients, re-sends and `$SYS`
 *   deliveries included (Mosquitto counts every packet it writes).
 * - Mosquitto's `messages/*` count every control packet; aedes exposes no
 *   per-packet signal, so midge publishes the PUBLISH counts there too.
 */
export class BrokerCounters {
  publishReceived = 0
  publishSent = 0
  /** Every `drop` event, whatever the reason (`publish/messages/dropped`). */
  dropped = 0
  readonly droppedBy: Record<DropReason, number> = { expired: 0, queue_full: 0, max_attempts: 0, no_subscribers: 0, slow_consumer: 0 }
  connected = 0
  maxConnected = 0
  /** Successful CONNECTs since start (for `load/connections`). */
  connects = 0
  /** Persistent sessions whose client is away, by client id. */
  readonly offline = new Set<string>()
  retainedBytes = 0
  readonly #subscriptions = new SubscriptionTally()

  // A disconnect counts only for a client whose clientReady we saw (aedes can close a client mid-CONNECT).
  readonly #ready = new WeakSet<ClientInfo>()
  readonly #retained = new Map<string, number>()
  #detach: (() => void) | undefined

  /** Client subscriptions, including those of offline persistent sessions. */
  get subscriptions (): number {
    return this.#subscriptions.count
  }

  get retainedCount (): number {
    return this.#retained.size
  }

  /** Start counting; `detach()` stops. */
  attach (events: BrokerEvents): void {
    const toggle = (on: boolean): void => {
      const method = on ? 'on' : 'off'
      events[method]('publish', this.#onPublish)[method]('deliver', this.#onDeliver)[method]('drop', this.#onDrop)
      events[method]('clientReady', this.#onReady)[method]('clientDisconnect', this.#onDisconnect)
    }
    toggle(true)
    const detachSubscriptions = this.#subscriptions.attach(events)
    this.#detach = () => {
      toggle(false)
      detachSubscriptions()
    }
  }

  detach (): void {
    this.#detach?.()
    this.#detach = undefined
  }

  readonly #onPublish = (message: Message, client: ClientInfo | undefined): void => {
    if (client !== undefined) this.publishReceived++
    if (message.retain === true) this.#retain(message.topic, message.payload.length)
  }

  readonly #onDeliver = (): void => {
    this.publishSent++
  }

  readonly #onDrop = (event: BrokerEventMap['drop'][0]): void => {
    this.dropped++
    // `?? 0`: a reason added to the core later still counts instead of turning into NaN.
    this.droppedBy[event.reason] = (this.droppedBy[event.reason] ?? 0) + 1
  }

  readonly #onReady = (client: ClientInfo): void => {
    this.#ready.add(client)
    this.connects++
    if (++this.connected > this.maxConnected) this.maxConnected = this.connected
    this.offline.delete(client.id)
  }

  readonly #onDisconnect = (client: ClientInfo): void => {
    if (!this.#ready.delete(client)) return
    this.connected--
    if (!client.clean) this.offline.add(client.id)
  }

  #retain (topic: string, bytes: number): void {
    const before = this.#retained.get(topic)
    // An empty retained payload deletes the retained message [MQTT-3.3.1-10].
    if (bytes === 0) {
      if (before !== undefined) this.#retained.delete(topic)
    } else {
      this.#retained.set(topic, bytes)
    }
    this.retainedBytes += bytes - (before ?? 0)
  }
}
