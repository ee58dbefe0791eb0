/**
 * Hand-encoded MQTT 3.1.1 packets for the hot paths of the load generator.
 * mqtt-packet's `generate` allocates and validates per call; at 100k msg/s that
 * shows up in the load generator's own profile, so acks are four literal bytes
 * and publishes are patched copies of one template.
 */
import { generate } from 'mqtt-packet'
import type { QoS } from 'mqtt-packet'

/** Fixed-header first bytes of the ack packets [MQTT-2.2.1]; PUBREL has flags 0b0010 [MQTT-3.6.1-1]. */
const PUBACK = 0x40
const PUBREC = 0x50
const PUBREL = 0x62
const PUBCOMP = 0x70

function ack (type: number, messageId: number): Buffer {
  return Buffer.from([type, 2, messageId >> 8, messageId & 0xff])
}

export const puback = (id: number): Buffer => ack(PUBACK, id)
export const pubrec = (id: number): Buffer => ack(PUBREC, id)
export const pubrel = (id: number): Buffer => ack(PUBREL, id)
export const pubcomp = (id: number): Buffer => ack(PUBCOMP, id)

/** DISCONNECT is always these two bytes in 3.1.1 [MQTT-3.14.1-1]. */
export const DISCONNECT = Buffer.from([0xe0, 0])

/**
 * A PUBLISH packet of fixed topic, QoS and payload size, from which each
 * message is a copy with its own packet id and payload bytes written in.
 */
export class PublishTemplate {
  readonly qos: QoS
  readonly payloadSize: number
  private readonly bytes: Buffer
  private readonly idOffset: number
  private readonly payloadOffset: number

  constructor (topic: string, qos: QoS, payloadSize: number) {
    if (payloadSize < 8) throw new RangeError('payloadSize must be at least 8 (room for a sequence number or timestamp)')
    this.qos = qos
    this.payloadSize = payloadSize
    this.bytes = generate({
      cmd: 'publish',
      topic,
      qos,
      dup: false,
      retain: false,
      payload: Buffer.alloc(payloadSize, 0x2e),
      ...(qos > 0 ? { messageId: 1 } : {}),
    })
    this.payloadOffset = this.bytes.length - payloadSize
    this.idOffset = qos > 0 ? this.payloadOffset - 2 : -1
  }

  /**
   * A fresh buffer (the socket may still hold the previous one) with
   * `messageId` (ignored at QoS 0) and a float64 `stamp` at payload offset 0.
   */
  build (messageId: number, stamp: number): Buffer {
    const buf = Buffer.allocUnsafe(this.bytes.length)
    this.bytes.copy(buf)
    if (this.idOffset >= 0) buf.writeUInt16BE(messageId, this.idOffset)
    buf.writeDoubleBE(stamp, this.payloadOffset)
    return buf
  }
}

/** Reads back the float64 written by {@link PublishTemplate.build}. */
export function readStamp (payload: Buffer | string): number {
  if (typeof payload === 'string' || payload.length < 8) return Number.NaN
  return payload.readDoubleBE(0)
}
