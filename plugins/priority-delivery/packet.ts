import type { OutboundPublish } from '../../src/core/hooks.js'
import type { Message, MessageMeta, QoS } from '../../src/core/message.js'

/**
 * A PUBLISH as this plugin sees it on its way out, in the store and in the
 * hooks: an aedes-packet `Packet`. `brokerId` + `brokerCounter` are its
 * identity — the key of its entry in a session queue.
 */
export interface WindowPacket extends OutboundPublish {
  readonly cmd?: string
  readonly brokerId?: string | null
  readonly brokerCounter?: number
}

/** What the store decorator stamps the priority on (aedes's own packet, owned by that one publish). */
export interface StampablePacket {
  topic: string
  qos?: number
  properties?: MessageMeta
}

/** The priority stamped on a message, if any. */
export function stampedPriority (meta: MessageMeta | undefined): number | undefined {
  const p = meta?.priority
  return typeof p === 'number' && Number.isFinite(p) ? p : undefined
}

/** A packet as midge's `Message` (for `drop` events). */
export function toMessage (packet: OutboundPublish): Message {
  return {
    topic: packet.topic,
    payload: packet.payload,
    qos: packet.qos as QoS,
    retain: packet.retain,
    ...(packet.properties !== undefined ? { properties: packet.properties } : {}),
  }
}
