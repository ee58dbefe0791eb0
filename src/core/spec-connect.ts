/**
 * MQTT 3.1.1 rules for CONNECT that aedes 1.2 and mqtt-packet 9 do not check.
 * Pure functions over the parsed packet: hook-slots applies the verdict.
 */
import { topicNameError } from './topic.js'

/** The parts of a parsed CONNECT these rules read (mqtt-packet's shape). */
export interface ConnectFields {
  protocolId?: string
  protocolVersion?: number
  clientId?: string
  clean?: boolean
  username?: string
  password?: Buffer
  will?: { topic?: string, qos?: number, retain?: boolean } | null
}

/**
 * What to do with a CONNECT that breaks a rule:
 * - `close`: a malformed packet; close the connection without a CONNACK [MQTT-3.1.4-1].
 * - `refuse`: answer with CONNACK 0x02 (identifier rejected), then close [MQTT-3.2.2-5].
 */
export type ConnectViolation =
  | { action: 'close', reason: string }
  | { action: 'refuse', returnCode: 2, reason: string }

/** Longest client id MQTT 3.1 (`MQIsdp`, level 3) allows. */
const MQTT31_MAX_CLIENT_ID = 23

/**
 * The first rule this CONNECT breaks, or undefined. `maxClientIdLength` is the
 * configured limit for 3.1.1 (the spec requires at least 23 [MQTT-3.1.3-5]).
 */
export function connectViolation (packet: ConnectFields, maxClientIdLength: number): ConnectViolation | undefined {
  // Protocol name and level [MQTT-3.1.2-1], [MQTT-3.1.2-2] are checked on the wire (spec-wire.ts).
  const name = packet.protocolId ?? 'MQTT'
  const clientId = packet.clientId ?? ''
  // [MQTT-1.5.3-2] no U+0000 in any UTF-8 string.
  if (clientId.includes('\u0000')) return { action: 'close', reason: 'NUL character in client id' }
  if (packet.username?.includes('\u0000') === true) return { action: 'close', reason: 'NUL character in user name' }
  // [MQTT-3.1.2-22] a password needs a user name.
  if (packet.password !== undefined && packet.username === undefined) {
    return { action: 'close', reason: 'password flag set without user name flag' }
  }
  const will = packet.will
  if (will !== undefined && will !== null) {
    // [MQTT-3.1.2-14] Will QoS 3 is malformed; mqtt-packet lets it through when the Will Flag is set.
    if ((will.qos ?? 0) > 2) return { action: 'close', reason: 'will QoS 3' }
    // [MQTT-3.1.3-10] the will topic is a topic name: no wildcards [MQTT-3.3.2-2], not empty, no NUL.
    const topicError = topicNameError(will.topic ?? '')
    if (topicError !== undefined) return { action: 'close', reason: `will topic: ${topicError}` }
  }
  if (name === 'MQIsdp') {
    // MQTT 3.1 §3.1: the client id is 1 to 23 characters; aedes checks only the upper bound.
    if (clientId.length === 0 || clientId.length > MQTT31_MAX_CLIENT_ID) {
      return { action: 'refuse', returnCode: 2, reason: 'MQTT 3.1 client id must be 1-23 characters' }
    }
    return undefined
  }
  // [MQTT-3.1.3-8] an empty client id needs clean session 1.
  if (clientId === '' && packet.clean === false) {
    return { action: 'refuse', returnCode: 2, reason: 'empty client id requires clean session' }
  }
  // [MQTT-3.1.3-9] a client id the server will not take: CONNACK 0x02.
  if (Buffer.byteLength(clientId) > maxClientIdLength) {
    return { action: 'refuse', returnCode: 2, reason: `client id longer than ${maxClientIdLength} bytes` }
  }
  return undefined
}
