/**
 * MQTT 3.1.1 rules that can only be checked on the bytes, before mqtt-packet
 * decodes them for aedes:
 *
 * - [MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01. mqtt-packet
 *   refuses levels other than 3, 4 and 5 with a parse error, so aedes closes
 *   the connection without a CONNACK.
 * - [MQTT-1.5.3-1] ill-formed UTF-8 (including encoded surrogates) in a topic,
 *   filter, client id, will topic or user name closes the connection.
 *   mqtt-packet decodes strings leniently (bad bytes become U+FFFD), so after
 *   parsing the damage can no longer be seen.
 * - [MQTT-2.3.1-1] PUBLISH (QoS > 0), SUBSCRIBE and UNSUBSCRIBE need a non-zero
 *   packet identifier; [MQTT-3.10.3-2] UNSUBSCRIBE needs a topic filter.
 * - [MQTT-3.8.4-5] / [MQTT-3.9.3-1] the SUBACK shows the QoS actually granted.
 *   aedes copies the *requested* QoS into the SUBACK before any hook runs, so a
 *   `mqtt.maxQos` below 2 is applied here, by lowering the requested QoS. Each
 *   SUBSCRIBE's entries are recorded for spec-suback.ts, which answers what
 *   the hooks decided, one code per entry.
 * - [MQTT-4.7.1-2] / [MQTT-4.7.1-3] / [MQTT-4.7.3-2] a malformed filter in
 *   UNSUBSCRIBE (`a#`, `+a`, U+0000) closes the connection: aedes checks
 *   UNSUBSCRIBE filters with its own lenient test only (SUBSCRIBE filters are
 *   checked in hook-slots), and would let a client remove the session marker
 *   (spec-session.ts). No client filter may contain U+0000.
 * - [MQTT-3.8.4-1] a SUBSCRIBE is answered even when a filter has more levels
 *   than `limits.maxTopicLevels`: aedes closes the connection for it before any
 *   hook runs. Such a filter is overwritten in place with as many U+0000 bytes
 *   (one level, which no client can send), which hook-slots refuses: SUBACK
 *   0x80. In UNSUBSCRIBE it matches nothing, as it could not have been granted.
 * - [MQTT-3.1.4-1] a CONNECT with bytes after its last field is malformed.
 * - A DISCONNECT with a non-zero Remaining Length (§3.14.1) is malformed: the
 *   connection closes as for any protocol error, so the will is published
 *   [MQTT-3.1.2-8]; aedes would take it as a normal DISCONNECT.
 *
 * The guard sits on the connection's read side: aedes reads with
 * `stream.read()` on 'readable', and the guard hands it whole packets, holding
 * back a partial one until the rest arrives, except that a PUBLISH streams its
 * payload on once its topic and packet id are checked. Writes are untouched.
 */
import { isUtf8 } from 'node:buffer'
import type { Duplex } from 'node:stream'
import { type SubscribeEntry, subscribeArrived } from './spec-suback.js'
import { filterError } from './topic.js'

export interface WireGuardOptions {
  /** Highest QoS granted on SUBSCRIBE (`mqtt.maxQos`). */
  maxQos: 0 | 1 | 2
  /** Most levels a topic filter may have (`limits.maxTopicLevels`, what aedes enforces). */
  maxTopicLevels: number
  /** Told why a connection was closed (for logging), with the `label` the guard was installed with. */
  onViolation?: (reason: string, label: string | undefined) => void
}

type Verdict = undefined | { close: string, connack?: Buffer }

const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01])
const CONNECT = 1
const PUBLISH = 3
const SUBSCRIBE = 8
const UNSUBSCRIBE = 10
const PUBACK = 4
const PUBCOMP = 7
const PINGREQ = 12
const DISCONNECT = 14
const SLASH = 0x2f

/**
 * Close a connection for a protocol violation with the reason as its error:
 * aedes reports it (on the disconnect line, or the line of a failed connect).
 * Not on a stream nobody listens to for errors: that would throw.
 */
export function closeForViolation (stream: Duplex, reason: string): void {
  stream.destroy(stream.listenerCount('error') > 0 ? new Error(`protocol violation: ${reason}`) : undefined)
}

/**
 * Install the guard on a connection before handing it to aedes. `options` may
 * be shared by every connection; `label` (e.g. the listener) is passed back
 * to `onViolation`.
 */
export function guardWire (stream: Duplex, options: WireGuardOptions, label?: string): void {
  const guard = new WireGuard(stream, options, label)
  stream.read = (size?: number): unknown => guard.read(size)
}

/**
 * Splits the byte stream into packets and checks each one. One object per
 * connection holds all of its state: idle connections are most of a broker's.
 */
class WireGuard {
  readonly #stream: Duplex
  /** The stream's own `read` (its prototype's), called with the stream as `this`. */
  readonly #read: Duplex['read']
  readonly #options: WireGuardOptions
  readonly #label: string | undefined
  /** A violation was found: nothing after the offending packet reaches aedes. */
  #stopped = false
  /** Bytes of an incomplete packet; allocated when one is first held back. */
  #pending: Buffer[] | undefined
  #pendingLength = 0
  /** Bytes needed before the packet at the head of `#pending` is complete; 0 = unknown. */
  #needed = 0
  #first = true
  /** Bytes of a PUBLISH already checked (topic and packet id) still to pass through unbuffered. */
  #skip = 0
  /** Set by `take` when a packet breaks a rule. */
  #verdict: Verdict

  constructor (stream: Duplex, options: WireGuardOptions, label: string | undefined) {
    this.#stream = stream
    this.#read = stream.read
    this.#options = options
    this.#label = label
  }

  read (size?: number): unknown {
    const stream = this.#stream
    const chunk: unknown = this.#read.call(stream, size)
    if (!Buffer.isBuffer(chunk)) return chunk
    if (this.#stopped) return null // closing: nothing after the offending packet reaches aedes
    const pass = this.take(chunk)
    const verdict = this.#verdict
    if (verdict !== undefined) {
      this.#stopped = true
      this.#options.onViolation?.(verdict.close, this.#label)
      // Let aedes act on the packets before the bad one, then close [MQTT-4.8.0-1].
      const end = (): void => { closeForViolation(stream, verdict.close) }
      if (verdict.connack !== undefined) stream.write(verdict.connack, () => setImmediate(end))
      else setImmediate(end)
    }
    return pass
  }

  /** Complete packets to pass on (or null); `#verdict` is set if one of them breaks a rule. */
  take (chunk: Buffer): Buffer | null {
    this.#verdict = undefined
    // [MQTT-3.1.0-1] the first packet must be CONNECT: judge it on its first byte,
    // without waiting for the length it claims (e.g. `GET / HTTP/1.1`).
    if (this.#first && this.#pendingLength === 0 && chunk.length > 0 && chunk[0]! >> 4 !== CONNECT) {
      this.#first = false
      this.#verdict = { close: 'first packet is not CONNECT [MQTT-3.1.0-1]' }
      return null
    }
    if (this.#skip > 0 && chunk.length <= this.#skip) {
      // The body of a large PUBLISH whose header was checked: no copy, no parse.
      this.#skip -= chunk.length
      return chunk
    }
    let buf = chunk
    if (this.#pendingLength > 0) {
      const pending = this.#pending!
      pending.push(chunk)
      this.#pendingLength += chunk.length
      if (this.#needed > 0 && this.#pendingLength < this.#needed) return null
      buf = Buffer.concat(pending, this.#pendingLength)
    }
    let offset = this.#skip // nothing is pending while skipping, so buf is this chunk
    this.#skip = 0
    let verdict: Verdict
    this.#needed = 0
    while (offset < buf.length) {
      const header = remainingLength(buf, offset + 1)
      if (header === undefined) break // length bytes not all here yet
      if (header === null) { offset = buf.length; break } // malformed length: mqtt-packet reports it
      const start = offset + 1 + header.bytes
      const end = start + header.value
      if (end > buf.length && (buf[offset]! >> 4) === PUBLISH && !this.#first) {
        // Check a PUBLISH once its topic and packet id are here; stream the payload on.
        const qos = (buf[offset]! >> 1) & 3
        const topicEnd = start + 2 <= buf.length ? start + 2 + buf.readUInt16BE(start) : Infinity
        const prefix = topicEnd + (qos > 0 ? 2 : 0)
        if (prefix <= buf.length && prefix <= end) {
          verdict = checkPublish(buf, buf[offset]!, start, buf.length)
          if (verdict !== undefined) break
          this.#skip = end - buf.length
          offset = buf.length
          break
        }
      }
      if (end > buf.length) {
        this.#needed = end - offset
        break
      }
      verdict = this.#check(buf, offset, start, end)
      if (verdict !== undefined) break
      offset = end
    }
    this.#verdict = verdict
    const restLength = buf.length - offset
    if (restLength > 0 && verdict === undefined) {
      const rest = buf.subarray(offset)
      if (this.#pending === undefined) this.#pending = [rest]
      else {
        this.#pending.length = 0
        this.#pending.push(rest)
      }
      this.#pendingLength = restLength
    } else {
      if (this.#pending !== undefined) this.#pending.length = 0
      this.#pendingLength = 0
    }
    return offset > 0 ? buf.subarray(0, offset) : null
  }

  #check (buf: Buffer, at: number, start: number, end: number): Verdict {
    const type = buf[at]! >> 4
    const first = this.#first
    this.#first = false
    if (type === CONNECT && first) return checkConnect(buf, start, end)
    if (type === PUBLISH) return checkPublish(buf, buf[at]!, start, end)
    if (type === SUBSCRIBE || type === UNSUBSCRIBE) return this.#checkSubscribe(buf, type, start, end)
    // Fixed lengths (§3.4–3.7, 3.12, 3.14): mqtt-packet reads what it needs and ignores the rest.
    if (type >= PUBACK && type <= PUBCOMP && end - start !== 2) return { close: 'PUBACK / PUBREC / PUBREL / PUBCOMP with a remaining length other than 2' }
    if ((type === PINGREQ || type === DISCONNECT) && end !== start) return { close: 'PINGREQ / DISCONNECT with a non-zero remaining length' }
    return undefined
  }

  #checkSubscribe (buf: Buffer, type: number, start: number, end: number): Verdict {
    if (end - start < 2) return undefined // malformed: mqtt-packet closes the connection
    if (buf.readUInt16BE(start) === 0) return { close: 'packet identifier 0 [MQTT-2.3.1-1]' }
    // [MQTT-3.8.3-3] / [MQTT-3.10.3-2] at least one topic filter (mqtt-packet accepts an empty UNSUBSCRIBE).
    if (end - start < 4) return { close: 'SUBSCRIBE / UNSUBSCRIBE without a topic filter' }
    let pos = start + 2
    const entries: SubscribeEntry[] = []
    while (pos + 2 <= end) {
      const len = buf.readUInt16BE(pos)
      const filterEnd = pos + 2 + len
      if (filterEnd > end) return undefined
      const verdict = this.#checkFilter(buf, type, pos + 2, filterEnd)
      if (verdict !== undefined) return verdict
      const filterStart = pos + 2
      pos = filterEnd
      if (type === SUBSCRIBE) {
        if (pos >= end) return undefined
        const requested = buf[pos]!
        // Reserved bits and QoS 3 are mqtt-packet's to refuse [MQTT-3.8.3-4]; only lower a valid request.
        const maxQos = this.#options.maxQos
        if (requested <= 2 && requested > maxQos) buf[pos] = maxQos
        entries.push({ topic: buf.toString('utf8', filterStart, filterEnd), qos: buf[pos]! })
        pos += 1
      }
    }
    if (type === SUBSCRIBE && pos === end) subscribeArrived(this.#stream, buf.readUInt16BE(start), entries)
    return undefined
  }

  #checkFilter (buf: Buffer, type: number, from: number, to: number): Verdict {
    const bytes = buf.subarray(from, to)
    if (!isUtf8(bytes)) return { close: 'ill-formed UTF-8 in topic filter [MQTT-1.5.3-1]' }
    if (bytes.includes(0)) return { close: 'U+0000 in topic filter [MQTT-4.7.3-2]' }
    if (type === UNSUBSCRIBE) {
      const invalid = filterError(bytes.toString('utf8'))
      if (invalid !== undefined) return { close: `invalid topic filter in UNSUBSCRIBE: ${invalid} [MQTT-4.7.1-2]` }
    }
    let levels = 1
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === SLASH) levels++
    if (levels > this.#options.maxTopicLevels) bytes.fill(0)
    return undefined
  }
}

/** A filter spec-wire overwrote because it was deeper than `limits.maxTopicLevels` (all U+0000). */
export function isTooDeepFilter (filter: string): boolean {
  if (filter.charCodeAt(0) !== 0) return false
  for (let i = 1; i < filter.length; i++) if (filter.charCodeAt(i) !== 0) return false
  return true
}

/** `first`: the fixed header's first byte (type, DUP, QoS, RETAIN). */
function checkPublish (buf: Buffer, first: number, start: number, end: number): Verdict {
  const qos = (first >> 1) & 3
  // [MQTT-3.3.1-2] DUP is 0 on every QoS 0 message
  if (qos === 0 && (first & 0x08) !== 0) return { close: 'DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]' }
  if (end - start < 2) return undefined
  const topicEnd = start + 2 + buf.readUInt16BE(start)
  if (topicEnd > end) return undefined
  if (!isUtf8(buf.subarray(start + 2, topicEnd))) return { close: 'ill-formed UTF-8 in topic name [MQTT-1.5.3-1]' }
  if (qos > 0 && topicEnd + 2 <= end && buf.readUInt16BE(topicEnd) === 0) return { close: 'packet identifier 0 [MQTT-2.3.1-1]' }
  return undefined
}

/** Protocol level, the UTF-8 strings of a CONNECT (client id, will topic, user name), and nothing after its last field. */
function checkConnect (buf: Buffer, start: number, end: number): Verdict {
  const name = readString(buf, start, end)
  if (name === undefined) return undefined
  const protocol = buf.toString('latin1', name.from, name.to)
  if (protocol !== 'MQTT' && protocol !== 'MQIsdp') return undefined // [MQTT-3.1.2-1]: mqtt-packet closes
  if (name.to + 4 > end) return undefined
  const level = buf[name.to]! & 0x7f // the top bit marks a bridge
  const supported = protocol === 'MQTT' ? level === 4 || level === 5 : level === 3
  // Level 5 goes on: aedes answers it with 0x01 itself.
  if (!supported) return { close: `unsupported protocol ${protocol} level ${level} [MQTT-3.1.2-2]`, connack: CONNACK_UNACCEPTABLE_PROTOCOL }
  if (level === 5) return undefined
  const flags = buf[name.to + 1]!
  const fields: Array<[boolean, string, boolean]> = [
    [true, 'client id', true],
    [(flags & 0x04) !== 0, 'will topic', true],
    [(flags & 0x04) !== 0, 'will message', false],
    [(flags & 0x80) !== 0, 'user name', true],
    [(flags & 0x40) !== 0, 'password', false],
  ]
  let pos = name.to + 4
  for (const [present, what, text] of fields) {
    if (!present) continue
    const field = readString(buf, pos, end)
    if (field === undefined) return undefined
    if (text && !isUtf8(buf.subarray(field.from, field.to))) return { close: `ill-formed UTF-8 in ${what} [MQTT-1.5.3-1]` }
    pos = field.to
  }
  if (pos !== end) return { close: `${end - pos} bytes after the last field of CONNECT [MQTT-3.1.4-1]` }
  return undefined
}

function readString (buf: Buffer, pos: number, end: number): { from: number, to: number } | undefined {
  if (pos + 2 > end) return undefined
  const to = pos + 2 + buf.readUInt16BE(pos)
  return to > end ? undefined : { from: pos + 2, to }
}

/** The Remaining Length at `pos`: undefined if incomplete, null if malformed (more than 4 bytes). */
function remainingLength (buf: Buffer, pos: number): { value: number, bytes: number } | undefined | null {
  let value = 0
  let mul = 1
  for (let i = 0; i < 4; i++) {
    if (pos + i >= buf.length) return undefined
    const byte = buf[pos + i]!
    value += (byte & 0x7f) * mul
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 }
    mul *= 128
  }
  return null
}
