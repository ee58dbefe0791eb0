/**
 * The shapes the session store exchanges with aedes. aedes's own types are
 * loose (`any` in places) and plugins must not import aedes, so the store
 * names exactly what it reads and writes here.
 */

/** Per-message metadata midge plugins carry in `packet.properties`. */
export interface PacketMeta {
  /** 0–9, 9 first; absent means the default priority (4). */
  priority?: number
  /** Epoch ms after which the message is dead. */
  expiresAt?: number
  /** Deliveries not acknowledged so far. */
  attempts?: number
  /** Epoch ms the broker first accepted the message. */
  firstPublishedAt?: number
  [key: string]: unknown
}

/**
 * An MQTT packet as it travels through aedes (an aedes-packet `Packet`, a
 * `PubRel`, or a plain object in the upstream test suite). Only the fields the
 * store looks at are named; every other own field is kept as is.
 */
export interface StoredPacket {
  cmd?: string
  topic?: string
  payload?: Buffer | string | Uint8Array
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string
  brokerCounter?: number
  clientId?: string
  properties?: PacketMeta
  [key: string]: unknown
}

/** The client handle aedes passes in: the store only reads its id. */
export interface ClientRef {
  readonly id: string
}

/** A subscription as aedes hands it to `addSubscriptions`. */
export interface SubscriptionInput {
  topic: string
  qos: number
  rh?: number
  rap?: boolean
  nl?: boolean
  /** MQTT 5 Subscription Identifier; kept only when present. */
  subscriptionIdentifier?: number
}

/** What the store keeps per (client, filter); the shape aedes-persistence's memory store keeps. */
export interface SubscriptionRecord {
  qos: number
  rh: number | undefined
  rap: boolean | undefined
  nl: boolean | undefined
  subscriptionIdentifier?: number
}

/** A persistent subscription matched by topic (`subscriptionsByTopic`). */
export interface TopicSubscription {
  clientId: string
  topic: string
  qos: number
  rh?: number
  rap?: boolean
  nl?: boolean
}

/** The broker object aedes passes to `setup`: its id, and the packet counter aedes-packet bumps. */
export interface BrokerRef {
  id: string
  counter?: number
}

/** Broker id → last heartbeat (ms), as aedes passes to `streamWill`. */
export type Brokers = Readonly<Record<string, number>>

/** A message the store threw away instead of keeping; never silent. */
export interface StoreDrop {
  /** `queue_full`: over `maxQueued`; `expired`: still queued when its session expired. */
  reason: 'queue_full' | 'expired'
  clientId: string
  packet: StoredPacket
}

/** Reports a drop; must not throw (it runs inside a store call). */
export type DropListener = (drop: StoreDrop) => void
