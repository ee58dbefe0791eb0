/**
 * [MQTT-3.8.4-4] / [MQTT-3.8.4-5] / [MQTT-3.9.3-1] the SUBACK carries one
 * return code per filter of the SUBSCRIBE, in order, each the QoS granted.
 *
 * aedes answers from its own view of the packet: it merges a filter repeated
 * in one SUBSCRIBE into one entry (`a` 1, `b` 0, `a` 2 got two codes), and it
 * copies each requested QoS into the SUBACK before `authorizeSubscribe` runs,
 * so a hook that lowers a QoS with `{ rewrite }` was delivered at the lower
 * QoS but reported at the one requested.
 *
 * So the wire guard records each SUBSCRIBE's entries as the bytes pass
 * (`subscribeArrived`), the authorizeSubscribe slot tells which SUBSCRIBE a
 * decision belongs to when it is asked (`deciding`) and what it granted when
 * it answers, and while a SUBSCRIBE waits for its answer the connection's
 * `write` is wrapped: mqtt-packet writes a SUBACK as four synchronous writes
 * (its SUBACK header constant, the length, the packet id, the codes), and
 * those are replaced by one SUBACK built from that SUBSCRIBE's record.
 *
 * aedes asks the slot synchronously as it takes each packet, for each of its
 * distinct filters in order, and takes a connection's packets in the order
 * they came, so the n-th question on a connection is about the next filter of
 * the oldest SUBSCRIBE not yet fully asked about: that is how a grant finds
 * its SUBSCRIBE, also when several with the same filter are answered at once.
 *
 * Each entry is answered as if it had come in a SUBSCRIBE of its own
 * [MQTT-3.8.4-4]: the last entry of a repeated filter is the subscription
 * that stays [MQTT-3.8.4-3], with its grant; an earlier one gets its own
 * request, refused with it and never above it (the hooks were asked about the
 * last one only).
 *
 * The wrapper is removed once no SUBSCRIBE waits: a delivery's writes never
 * pass through it. Nothing else wraps `write` after a connection is handed to
 * aedes (durable-acks.ts wraps it before), so putting the previous one back is
 * safe. SUBACK_HEADER is taken from the mqtt-packet that aedes itself loads,
 * as the SUBACK is recognised by that object.
 */
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'

export interface SubscribeEntry {
  topic: string
  /** As requested, after `mqtt.maxQos` lowered it on the wire. */
  qos: number
}

type Write = Writable['write']

const aedesRequire = createRequire(import.meta.resolve('aedes'))
const { SUBACK_HEADER } = aedesRequire('mqtt-packet/constants.js') as { SUBACK_HEADER: Buffer }
const REFUSED = 0x80

/** Where mqtt-packet is in writing a SUBACK: the write it is at. */
const enum Step { None, Header, Length, Id, Codes }

/** One SUBSCRIBE waiting for its SUBACK. */
export class PendingSubscribe {
  /** Its distinct filters, where each first appears: what aedes asks the slot about, in this order. */
  readonly distinct: string[]
  asked = 0
  /** Filter → what the slot granted it (a QoS or 0x80). */
  readonly grants = new Map<string, number>()

  constructor (readonly entries: SubscribeEntry[]) {
    this.distinct = [...new Set(entries.map((e) => e.topic))]
  }
}

class PendingSubacks {
  /** Packet id → its SUBSCRIBE. */
  readonly subscribes = new Map<number, PendingSubscribe>()
  /** SUBSCRIBEs the slot has not been asked about for every filter yet, oldest first. */
  readonly asking: PendingSubscribe[] = []
  step = Step.None
  messageId = 0
  wrapped = false
  ownWrite: Write | undefined

  constructor (readonly stream: Writable) {}
}

const pending = new WeakMap<object, PendingSubacks>()

/** The wire guard passed a well-formed SUBSCRIBE on `stream`. */
export function subscribeArrived (stream: Writable, messageId: number, entries: SubscribeEntry[]): void {
  let p = pending.get(stream)
  if (p === undefined) {
    p = new PendingSubacks(stream)
    pending.set(stream, p)
  }
  const previous = p.subscribes.get(messageId)
  if (previous !== undefined) forget(p, previous) // a packet id reused before its SUBACK: a client's fault
  const subscribe = new PendingSubscribe(entries)
  p.subscribes.set(messageId, subscribe)
  p.asking.push(subscribe)
  if (!p.wrapped) wrap(p)
}

/**
 * The authorizeSubscribe slot is asked about `topic` for a client's SUBSCRIBE
 * on `stream` (not a returning session's stored filter): the SUBSCRIBE it
 * belongs to, to pass to `granted`, or undefined if it cannot be told.
 */
export function deciding (stream: object, topic: string): PendingSubscribe | undefined {
  const p = pending.get(stream)
  const head = p?.asking[0]
  if (head === undefined || head.distinct[head.asked] !== topic) return undefined
  if (++head.asked === head.distinct.length) p!.asking.shift()
  return head
}

/** What the slot granted `topic` in `subscribe` (null: refused). */
export function granted (subscribe: PendingSubscribe | undefined, topic: string, qos: number | null): void {
  subscribe?.grants.set(topic, qos ?? REFUSED)
}

function forget (p: PendingSubacks, subscribe: PendingSubscribe): void {
  const i = p.asking.indexOf(subscribe)
  if (i >= 0) p.asking.splice(i, 1)
}

function wrap (p: PendingSubacks): void {
  const stream = p.stream
  p.ownWrite = Object.prototype.hasOwnProperty.call(stream, 'write') ? stream.write : undefined
  const write = stream.write
  p.wrapped = true
  const held: Buffer[] = []
  stream.write = function subackWrite (this: Writable, chunk: unknown, ...rest: unknown[]): boolean {
    if (p.step === Step.None) {
      if (chunk !== SUBACK_HEADER) return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest)
      p.step = Step.Header
      held.length = 0
    }
    held.push(chunk as Buffer)
    if (p.step === Step.Header) { p.step = Step.Length; return true }
    if (p.step === Step.Length) { p.step = Step.Id; return true }
    if (p.step === Step.Id) {
      p.messageId = (chunk as Buffer).readUInt16BE(0)
      p.step = Step.Codes
      return true
    }
    p.step = Step.None
    const out = answer(p, chunk as Buffer) ?? Buffer.concat(held)
    held.length = 0
    if (p.subscribes.size === 0) unwrap(p)
    return (write as (...args: unknown[]) => boolean).call(this, out, ...rest)
  } as Write
}

function unwrap (p: PendingSubacks): void {
  p.wrapped = false
  if (p.ownWrite !== undefined) p.stream.write = p.ownWrite
  else delete (p.stream as Partial<Writable>).write
}

/** The SUBACK for the SUBSCRIBE `p.messageId`, or undefined to send aedes's as it is. */
function answer (p: PendingSubacks, aedesCodes: Buffer): Buffer | undefined {
  const subscribe = p.subscribes.get(p.messageId)
  if (subscribe === undefined) return undefined
  p.subscribes.delete(p.messageId)
  forget(p, subscribe)
  // aedes's codes follow its merged entries: each filter where it first appears.
  const { entries, distinct, grants } = subscribe
  if (distinct.length !== aedesCodes.length) return undefined
  const final = new Map<string, number>()
  distinct.forEach((topic, k) => {
    const aedes = aedesCodes[k]!
    final.set(topic, aedes === REFUSED ? REFUSED : grants.get(topic) ?? aedes)
  })
  const lastOf = new Map<string, SubscribeEntry>()
  for (const e of entries) lastOf.set(e.topic, e)
  const codes = entries.map((e) => {
    const code = final.get(e.topic)!
    return e === lastOf.get(e.topic) || code === REFUSED ? code : Math.min(e.qos, code)
  })
  const lengthBytes: number[] = []
  for (let n = 2 + codes.length; ;) {
    const byte = n % 128
    n = Math.floor(n / 128)
    lengthBytes.push(n > 0 ? byte | 0x80 : byte)
    if (n === 0) break
  }
  return Buffer.from([SUBACK_HEADER[0]!, ...lengthBytes, p.messageId >> 8, p.messageId & 0xff, ...codes])
}
