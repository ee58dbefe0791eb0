import { EventEmitter } from 'node:events'
import type { ClientInfo, Message, QoS } from './message.js'

/** Why a message was dropped instead of delivered. */
export type DropReason = 'expired' | 'queue_full' | 'max_attempts' | 'no_subscribers'

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

/** Typed event bus; a thin layer over EventEmitter. */
export class BrokerEvents {
  readonly #emitter = new EventEmitter({ captureRejections: false })

  constructor () {
    this.#emitter.setMaxListeners(100)
  }

  on<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void)
    return this
  }

  off<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void)
    return this
  }

  once<K extends keyof BrokerEventMap> (event: K, listener: Listener<K>): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void)
    return this
  }

  emit<K extends keyof BrokerEventMap> (event: K, ...args: BrokerEventMap[K]): boolean {
    return this.#emitter.emit(event, ...args)
  }

  listenerCount (event: keyof BrokerEventMap): number {
    return this.#emitter.listenerCount(event)
  }
}
