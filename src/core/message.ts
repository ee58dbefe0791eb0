import { topicNameError } from './topic.js'

/** MQTT QoS level. */
export type QoS = 0 | 1 | 2

/**
 * A message as midge's API sees it. `properties` travels with the packet through
 * every store (aedes-packet keeps it), so plugins carry per-message metadata there.
 */
export interface Message {
  topic: string
  payload: Buffer | string
  qos?: QoS
  retain?: boolean
  /** Per-message metadata that survives the store: priority, expiry, attempts. */
  properties?: MessageMeta
}

/** Metadata midge plugins attach to a message. Every field is optional. */
export interface MessageMeta {
  /** 0–9, 9 first (priority-delivery). */
  priority?: number
  /** Epoch ms after which the message is dead (dead-letter). */
  expiresAt?: number
  /** Deliveries not acknowledged so far (dead-letter, queue groups). */
  attempts?: number
  /** Epoch ms the broker first accepted the message. */
  firstPublishedAt?: number
  [key: string]: unknown
}

/**
 * A read-only view of a connected client: one object for the life of the
 * connection. Its `id`, `clean` and `username` are the CONNECT's; for a stream
 * just given to `attach()` that has sent none yet, `id` is '' and `clean` true.
 */
export interface ClientInfo {
  /** MQTT client id (aedes assigns one for an empty id with clean session). */
  readonly id: string
  readonly username: string | undefined
  readonly clean: boolean
  /** Remote address as reported by the socket, if any. */
  readonly remoteAddress: string | undefined
  /** Name of the listener the client came in on (`mqtt`, `ws`, …, or `stream`). */
  readonly listener: string
  /** Subject CN of the client certificate the TLS listener verified (listeners with `requestCert`). */
  readonly certificateCN?: string | undefined
}

/**
 * Why `message` (from the API, so typed only at compile time) is no valid
 * PUBLISH, or undefined: what goes out to clients must be one [MQTT-3.3.2-2]
 * [MQTT-4.7.3-1], and aedes sends whatever it gets.
 */
export function messageError (message: Message): string | undefined {
  const { topic, qos, payload, retain } = message
  if (typeof topic !== 'string') return 'the topic is not a string'
  const invalid = topicNameError(topic)
  if (invalid !== undefined) return invalid
  if (qos !== undefined && qos !== 0 && qos !== 1 && qos !== 2) return `qos ${String(qos)} is not 0, 1 or 2`
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return 'the payload is not a string, Buffer or Uint8Array'
  if (retain !== undefined && typeof retain !== 'boolean') return 'retain is not a boolean'
  return undefined
}
