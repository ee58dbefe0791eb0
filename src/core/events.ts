import { EventEmitter } from 'node:events'
import type { ClientInfo, Message, QoS } from './message.js'

/** Why a message was dropped instead of delivered. */
export type DropReason = 'expired' | 'queue_full' | 'max_attempts' | 'no_subscribers' | 'slow_consumer'

/**
 * A message that was not delivered. Every drop in midge goes through this event
 * (the dead-letter plugin consumes it); nothing is dropped silently.
 */
export interface DropEvent {
  reason: DropReason
  message: Message
  /** The client the message was meant for, if any. */
  clientId?: string
  /** The queue group the message was meant for, if any. */
  group?: string
  at: number
}

/** Map of event names to their listener arguments. */
export interface BrokerEventMap {
  /** CONNACK 0 sent; the client is registered. */
  clientReady: [client: ClientInfo]
  clientDisconnect: [client: ClientInfo]
  /** A connected client failed (protocol error, socket error, keepalive). */
  clientError: [client: ClientInfo | undefined, error: Error]
  /** A publish was routed (after store and emitter). `client` is undefined for broker publishes. */
  publish: [message: Message, client: ClientInfo | undefined]
  /**
   * A PUBLISH passed `authorizeForward` and aedes writes it to `client` now (re-sends of stored
   * messages included). Per delivery: listeners must only bump a number.
   */
  deliver: [message: Message, client: ClientInfo]
  /** A QoS 1/2 delivery to `client` was acknowledged. */
  ack: [message: Message | undefined, client: ClientInfo]
  subscribe: [subscriptions: ReadonlyArray<{ topic: string, qos: QoS | 128 }>, client: ClientInfo]
  unsubscribe: [topics: readonly string[], client: ClientInfo]
  drop: [event: DropEvent]
  /** A failure of the broker itself (store, emitter): reported, never swallowed. */
  error: [error: Error]
}

type Listener<K extends keyof BrokerEventMap> = (...args: BrokerEventMap[K]) => void
type AnyListener = (...args: unknown[]) => void

/** Where a listener's exception goes (the broker's logger). */
export type ListenerErrorReport = (event: keyof BrokerEventMap, err: unknown) => void

/**
 * Typed event bus; a thin layer over EventEmitter. Listeners observe: one
 * that throws is reported and the broker goes on (the others still run). The
 * events are emitted from inside aedes's packet handling, where an exception
 * would end the process or the connection. An `error` event nobody listens
 * to is not thrown either: every error is logged where it arises.
 */
export class BrokerEvents {
  readonly #emitter = new EventEmitter({ captureRejections: false })
  readonly #report: ListenerErrorReport
  /** Each listener's guarded wrapper, per event, so `off` finds it. */
  readonly #guarded = new WeakMap<AnyListener, Map<keyof BrokerEventMap, AnyListener>>()

  constructor (report: ListenerErrorReport = () => {}) {
    this.#emitter.setMaxListeners(100)
    this.#report = report
  }

  on<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    this.#emitter.on(event, this.#guard(event, listener as AnyListener))
    return this
  }

  off<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    const guarded = this.#guarded.get(listener as AnyListener)?.get(event)
    if (guarded !== undefined) this.#emitter.off(event, guarded)
    return this
  }

  once<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    this.#emitter.on(event, this.#guard(event, listener as AnyListener, true))
    return this
  }

  emit<K extends keyof BrokerEventMap> (event: K, ...args: BrokerEventMap[K]): boolean {
    if (event === 'error' && this.#emitter.listenerCount('error') === 0) return false
    return this.#emitter.emit(event, ...args)
  }

  listenerCount (event: keyof BrokerEventMap): number {
    return this.#emitter.listenerCount(event)
  }

  /**
   * The listener wrapped so that a throw is reported, filed under the
   * listener itself so `off` finds it (a pending `once` too). A `once` wrapper
   * is always a new one and takes itself off before it runs.
   */
  #guard (event: keyof BrokerEventMap, listener: AnyListener, once = false): AnyListener {
    let byEvent = this.#guarded.get(listener)
    if (byEvent === undefined) {
      byEvent = new Map()
      this.#guarded.set(listener, byEvent)
    }
    const existing = byEvent.get(event)
    if (existing !== undefined && !once) return existing
    const report = this.#report
    const emitter = this.#emitter
    const guarded = function (this: unknown, ...args: unknown[]): void {
      if (once) {
        emitter.off(event, guarded)
        if (byEvent.get(event) === guarded) byEvent.delete(event)
      }
      try {
        listener.apply(this, args)
      } catch (err) {
        report(event, err)
      }
    }
    byEvent.set(event, guarded)
    return guarded
  }
}
