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
 * (`subscribeArrived`), the authorizeSubscribe slot records what it granted
 * for each filter (`granted`), and while a SUBSCRIBE waits for its answer the
 * connection's `write` is wrapped: mqtt-packet writes a SUBACK as four
 * synchronous writes (its SUBACK header constant, the length, the packet id,
 * the codes), and those are replaced by one SUBACK built from both records.
 * Each entry is answered as if it had come in a SUBSCRIBE of its own
 * [MQTT-3.8.4-4]: the last entry of a repeated filter is the subscription
 * that stays [MQTT-3.8.4-3], with its grant; an earlier one gets its own
 * requested QoS, under the same refusal or lowered ceiling.
 *
 * The wrapper is removed once no SUBSCRIBE is waiting: a delivery's writes
 * never pass through it. Nothing else wraps `write` after a connection is
 * handed to aedes (durable-acks.ts wraps it before), so putting the previous
 * one back is safe.
 */
import { createRequire } from 'node:module'
import type { Writable } from 'node:stream'

export interface SubscribeEntry {
  topic: string
  /** As requested, after `mqtt.maxQos` lowered it on the wire. */
  qos: number
}

type Write = Writable['write']

const { SUBACK_HEADER } = createRequire(import.meta.url)('mqtt-packet/constants.js') as { SUBACK_HEADER: Buffer }
const REFUSED = 0x80

/** Where mqtt-packet is in writing a SUBACK: 0 = not in one; then header, length and id seen. */
const enum Step { None, Header, Length, Id }

class PendingSubacks {
  /** Packet id → the SUBSCRIBE's entries, in order. */
  readonly subscribes = new Map<number, SubscribeEntry[]>()
  /** Filter → what the slot granted it (a QoS or 0x80), for the SUBACK being prepared. */
  readonly grants = new Map<string, number>()
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
  p.subscribes.set(messageId, entries)
  if (!p.wrapped) wrap(p)
}

/** The authorizeSubscribe slot decided on `topic` for a SUBSCRIBE of `stream` (null: refused). */
export function granted (stream: object, topic: string, qos: number | null): void {
  const p = pending.get(stream)
  if (p === undefined || !p.wrapped) return
  p.grants.set(topic, qos ?? REFUSED)
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
      p.step = Step.Id + 1
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
  p.grants.clear()
  if (p.ownWrite !== undefined) p.stream.write = p.ownWrite
  else delete (p.stream as Partial<Writable>).write
}

/** The SUBACK for the SUBSCRIBE `p.messageId`, or undefined to send aedes's as it is. */
function answer (p: PendingSubacks, aedesCodes: Buffer): Buffer | undefined {
  const entries = p.subscribes.get(p.messageId)
  if (entries === undefined) return undefined
  p.subscribes.delete(p.messageId)
  // aedes's codes follow its merged entries: each filter where it first appears, with the last entry's request.
  const lastOf = new Map<string, SubscribeEntry>()
  for (const e of entries) lastOf.set(e.topic, e)
  if (lastOf.size !== aedesCodes.length) return undefined
  const final = new Map<string, number>()
  let k = 0
  for (const topic of lastOf.keys()) {
    const aedes = aedesCodes[k++]!
    const slot = p.grants.get(topic)
    p.grants.delete(topic)
    final.set(topic, aedes === REFUSED ? REFUSED : slot ?? aedes)
  }
  const codes = entries.map((e) => {
    const code = final.get(e.topic)!
    const last = lastOf.get(e.topic)!
    if (e === last || code === REFUSED) return code
    return code < last.qos ? Math.min(e.qos, code) : e.qos
  })
  const length = 2 + codes.length
  const lengthBytes: number[] = []
  for (let n = length; ; ) {
    const byte = n % 128
    n = Math.floor(n / 128)
    lengthBytes.push(n > 0 ? byte | 0x80 : byte)
    if (n === 0) break
  }
  return Buffer.from([SUBACK_HEADER[0]!, ...lengthBytes, p.messageId >> 8, p.messageId & 0xff, ...codes])
}
