/**
 * Shared helpers for the MQTT 3.1.1 conformance tests: raw connections with a
 * predictable client id, hand-built packets for malformed input, and the
 * sentinel pattern that proves a message was *not* delivered.
 */
import type { MqttClient } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { expect } from 'vitest'
import type { Broker } from '../../src/broker.js'
import { RawClient, type Received } from '../helpers/clients.js'

export type Connack = Packet & { cmd: 'connack', returnCode: number, sessionPresent: boolean }
export type PublishIn = Packet & { cmd: 'publish', topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean, dup: boolean, messageId?: number }
export type Suback = Packet & { cmd: 'suback', messageId: number, granted: number[] }

let seq = 0
/** A client id unique within the run (ids must not collide between parallel tests). */
export function uniqueId (prefix = 'c'): string {
  seq += 1
  return `${prefix}-${process.pid}-${seq}`
}

/** A raw client that has completed CONNECT with return code 0. */
export async function rawConnected (url: string, options: Record<string, unknown> = {}): Promise<RawClient> {
  const raw = await RawClient.open(url)
  const connack = await raw.connect({ clientId: uniqueId('raw'), ...options })
  expect(connack.returnCode).toBe(0)
  return raw
}

/** SUBSCRIBE and wait for the SUBACK. */
export async function rawSubscribe (raw: RawClient, subscriptions: Array<{ topic: string, qos: number }>, messageId = 1): Promise<Suback> {
  raw.send({ cmd: 'subscribe', messageId, subscriptions } as Record<string, unknown>)
  return raw.next('suback', (p: Suback) => p.messageId === messageId) as Promise<Suback>
}

/** Resolves true once the broker closes the socket; never rejects. */
export function closedBy (raw: RawClient): Promise<true> {
  return raw.closed().then(() => true as const)
}

/**
 * A CONNECT packet built by hand, so fields mqtt-packet refuses to generate
 * (reserved bit, will QoS 3, password without user name…) can be sent.
 */
export function connectBytes (fields: {
  protocolName?: string
  level?: number
  flags?: number
  keepalive?: number
  clientId?: string | Buffer
  willTopic?: string | Buffer
  willPayload?: Buffer
  username?: string | Buffer
  password?: Buffer
}): Buffer {
  const str = (s: string | Buffer): Buffer => {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
    const len = Buffer.alloc(2)
    len.writeUInt16BE(b.length)
    return Buffer.concat([len, b])
  }
  const keepalive = Buffer.alloc(2)
  keepalive.writeUInt16BE(fields.keepalive ?? 60)
  const parts = [
    str(fields.protocolName ?? 'MQTT'),
    Buffer.from([fields.level ?? 4, fields.flags ?? 0x02]),
    keepalive,
    str(fields.clientId ?? uniqueId('hand')),
  ]
  if (fields.willTopic !== undefined) parts.push(str(fields.willTopic), str(fields.willPayload ?? Buffer.from('will')))
  if (fields.username !== undefined) parts.push(str(fields.username))
  if (fields.password !== undefined) parts.push(str(fields.password))
  return frame(0x10, Buffer.concat(parts))
}

/** Fixed header + remaining length + body. */
export function frame (firstByte: number, body: Buffer): Buffer {
  const length: number[] = []
  let n = body.length
  do {
    let digit = n % 128
    n = Math.floor(n / 128)
    if (n > 0) digit |= 0x80
    length.push(digit)
  } while (n > 0)
  return Buffer.concat([Buffer.from([firstByte, ...length]), body])
}

/** A PUBLISH with raw topic bytes (for ill-formed UTF-8 and NUL). */
export function publishBytes (topic: Buffer, payload: Buffer, qos: 0 | 1 | 2 = 0, messageId = 1): Buffer {
  const len = Buffer.alloc(2)
  len.writeUInt16BE(topic.length)
  const id = Buffer.alloc(qos > 0 ? 2 : 0)
  if (qos > 0) id.writeUInt16BE(messageId)
  return frame(0x30 | (qos << 1), Buffer.concat([len, topic, id, payload]))
}

/** A SUBSCRIBE with raw filter bytes and a chosen requested-QoS byte. */
export function subscribeBytes (filters: Array<{ topic: Buffer | string, options: number }>, messageId = 1, flags = 0x02): Buffer {
  const id = Buffer.alloc(2)
  id.writeUInt16BE(messageId)
  const parts: Buffer[] = [id]
  for (const f of filters) {
    const b = typeof f.topic === 'string' ? Buffer.from(f.topic) : f.topic
    const len = Buffer.alloc(2)
    len.writeUInt16BE(b.length)
    parts.push(len, b, Buffer.from([f.options]))
  }
  return frame(0x80 | flags, Buffer.concat(parts))
}

export function generate (packet: Record<string, unknown>): Buffer {
  return mqttPacket.generate(packet as unknown as Packet)
}

/**
 * Everything `client` receives until a message on `sentinelTopic` arrives:
 * call, then publish the messages under test, then publish the sentinel.
 */
export function receivedUntil (client: MqttClient, sentinelTopic: string): Promise<Received[]> {
  return new Promise((resolve) => {
    const got: Received[] = []
    const onMessage = (topic: string, payload: Buffer, packet: Received['packet']): void => {
      if (topic === sentinelTopic) {
        client.off('message', onMessage)
        resolve(got)
        return
      }
      got.push({ topic, payload, packet })
    }
    client.on('message', onMessage)
  })
}

/** Raw-client variant of `receivedUntil`: PUBLISH packets up to the sentinel. */
export async function rawReceivedUntil (raw: RawClient, sentinelTopic: string): Promise<PublishIn[]> {
  const got: PublishIn[] = []
  for (;;) {
    const p = await raw.next('publish') as PublishIn
    if (p.topic === sentinelTopic) return got
    got.push(p)
  }
}

/** Resolves when the broker has finished with the session of `clientId` (server side of the close). */
export function serverDisconnect (broker: { on: Broker['on'], off: Broker['off'] }, clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (client: { id: string }): void => {
      if (client.id !== clientId) return
      broker.off('clientDisconnect', listener)
      resolve()
    }
    broker.on('clientDisconnect', listener)
  })
}
