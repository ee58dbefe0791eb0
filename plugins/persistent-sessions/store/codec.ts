import type { StoredPacket, SubscriptionRecord } from './types.js'

/**
 * Packet <-> document codec for the nedb datafile.
 *
 * nedb stores documents as JSON lines, and JSON turns a Buffer into
 * `{ type: 'Buffer', data: [...] }` (5× the size, and it comes back as a plain
 * object). So the payload is stored as base64 (`b`) or, when it was a string, as
 * that string (`s`), and comes back with the type it went in with. Primitive
 * fields go in `f` as they are; anything else (`properties`, odd keys nedb
 * refuses: `$x`, `a.b`) goes into `x`, a JSON string whose Buffers are tagged so
 * they round-trip too.
 */
export interface EncodedPacket {
  /** Primitive fields (string, number, boolean, null) with nedb-safe keys. */
  f: Record<string, string | number | boolean | null>
  /** Payload bytes, base64. */
  b?: string
  /** Payload that was a string. */
  s?: string
  /** Every other field, as tagged JSON (see `BUFFER_TAG`). */
  x?: string
}

/** A subscription in a subscriptions document. Short keys: one line per client. */
export interface SubscriptionDoc {
  tp: string
  q: number
  rh?: number
  rap?: boolean
  nl?: boolean
  si?: number
}

/**
 * Every document in the datafile. `_id` is the base-36 write number: unique,
 * increasing, so when a crash leaves two versions of one logical record (the new
 * one written, the old one's removal not yet), the higher `_id` wins at load.
 */
export type StoreDoc =
  /** A retained message; logical key: its topic. */
  | { _id: string, t: 'r', p: EncodedPacket }
  /** All subscriptions of one client; logical key: the client. */
  | { _id: string, t: 's', c: string, l: SubscriptionDoc[] }
  /**
   * The body of a queued message, shared by every queue entry that points to
   * it. `j`: the encoded packet as one JSON string (older files: `p`, the
   * object), `a`: epoch ms queued (absent in older files). Bodies are most of
   * the file, and nedb calls hooks per key on every load, copy and
   * compaction: one string field costs it one call instead of a dozen.
   */
  | { _id: string, t: 'm', j?: string, p?: EncodedPacket, a?: number }
  /**
   * One entry of a client's outgoing queue; logical key: `s`, its position
   * (queue order). `m` points to the message body, or (a message queued for
   * this client only) `j` and `a` are the body itself, as in a body document;
   * `mid` is the packet id once assigned; `p` is a packet that replaced the
   * message (the PUBREL of a QoS 2 handshake).
   */
  | { _id: string, t: 'q', c: string, s: number, m?: string, j?: string, a?: number, mid?: number, p?: EncodedPacket }
  /** An incoming QoS 2 packet waiting for PUBREL; logical key: client + packet id. */
  | { _id: string, t: 'i', c: string, p: EncodedPacket }
  /** A will; logical key: the client. */
  | { _id: string, t: 'w', c: string, p: EncodedPacket }
  /** When an offline client was last seen (session expiry); logical key: the client. */
  | { _id: string, t: 'c', c: string, seen: number }

export type DocKind = StoreDoc['t']

const BUFFER_TAG = '__midgeBuffer'
/** nedb refuses keys that start with `$` or contain `.`. */
const SAFE_KEY = /^[^$.][^.]*$/

/** Encodes any packet-like object; `undefined` fields are dropped. */
export function encodePacket (packet: StoredPacket): EncodedPacket {
  const f: EncodedPacket['f'] = {}
  let other: Record<string, unknown> | undefined
  const out: EncodedPacket = { f }
  for (const key of Object.keys(packet)) {
    const value = packet[key]
    if (value === undefined) continue
    if (key === 'payload' && value instanceof Uint8Array) {
      out.b = toBuffer(value).toString('base64')
    } else if (key === 'payload' && typeof value === 'string') {
      out.s = value
    } else if (isPrimitive(value) && SAFE_KEY.test(key)) {
      f[key] = value
    } else {
      other ??= {}
      other[key] = value
    }
  }
  if (other !== undefined) out.x = JSON.stringify(other, tagBuffers)
  return out
}

/** A queued message's body document fields: the packet as one JSON string. */
export function encodeBody (packet: StoredPacket): string {
  return JSON.stringify(encodePacket(packet))
}

/** The packet of a body document, either shape. */
export function decodeBody (doc: { j?: string, p?: EncodedPacket }): StoredPacket | undefined {
  if (doc.j !== undefined) return decodePacket(JSON.parse(doc.j) as EncodedPacket)
  return doc.p === undefined ? undefined : decodePacket(doc.p)
}

/** Decodes to a plain object with the fields (and payload type) that went in. */
export function decodePacket (encoded: EncodedPacket): StoredPacket {
  const packet: StoredPacket = { ...encoded.f }
  // the reviver (one call per key) only where a Buffer was tagged
  if (encoded.x !== undefined) Object.assign(packet, JSON.parse(encoded.x, encoded.x.includes(BUFFER_TAG) ? untagBuffers : undefined) as object)
  if (encoded.b !== undefined) packet.payload = Buffer.from(encoded.b, 'base64')
  else if (encoded.s !== undefined) packet.payload = encoded.s
  return packet
}

export function encodeSubscription (topic: string, sub: SubscriptionRecord): SubscriptionDoc {
  const doc: SubscriptionDoc = { tp: topic, q: sub.qos }
  if (sub.rh !== undefined) doc.rh = sub.rh
  if (sub.rap !== undefined) doc.rap = sub.rap
  if (sub.nl !== undefined) doc.nl = sub.nl
  if (sub.subscriptionIdentifier !== undefined) doc.si = sub.subscriptionIdentifier
  return doc
}

export function decodeSubscription (doc: SubscriptionDoc): { topic: string, qos: number, rh?: number, rap?: boolean, nl?: boolean, subscriptionIdentifier?: number } {
  const sub: { topic: string, qos: number, rh?: number, rap?: boolean, nl?: boolean, subscriptionIdentifier?: number } = { topic: doc.tp, qos: doc.q, rh: doc.rh, rap: doc.rap, nl: doc.nl }
  if (doc.si !== undefined) sub.subscriptionIdentifier = doc.si
  return sub
}

/**
 * nedb's line reader splits on U+0085, U+2028 and U+2029 as well as `\n`
 * (lib/byline.js), and JSON.stringify leaves those characters raw inside
 * strings: a topic or string payload holding one would turn a good line into
 * two "corrupt" ones on the next start. Writing them as JSON escapes is
 * lossless (they only ever occur inside strings) and keeps one document per
 * line. Used as nedb's `afterSerialization` hook.
 */
export function escapeLineBreaks (line: string): string {
  return LINE_BREAKS.test(line) ? line.replace(LINE_BREAKS_G, escapeChar) : line
}

const LINE_BREAKS = /[\u0085\u2028\u2029]/
const LINE_BREAKS_G = /[\u0085\u2028\u2029]/g
const escapeChar = (c: string): string => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')

function isPrimitive (value: unknown): value is string | number | boolean | null {
  return value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function toBuffer (bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** JSON.stringify calls Buffer#toJSON before the replacer sees the value, so look at the holder's raw field. */
function tagBuffers (this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key]
  return raw instanceof Uint8Array ? { [BUFFER_TAG]: toBuffer(raw).toString('base64') } : value
}

function untagBuffers (_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const tagged = (value as Record<string, unknown>)[BUFFER_TAG]
    if (typeof tagged === 'string' && Object.keys(value).length === 1) return Buffer.from(tagged, 'base64')
  }
  return value
}
