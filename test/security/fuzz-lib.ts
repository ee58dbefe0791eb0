/**
 * Hostile-input generator shared by the fuzz test and the soak script: random
 * bytes and mutated valid MQTT packets, sent over many raw TCP connections.
 * Seeded, so a failing run can be replayed.
 */
import { connect as netConnect } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'

/** mulberry32: small, fast, seedable. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rand = () => number
const int = (rand: Rand, n: number): number => Math.floor(rand() * n)
const pick = <T>(rand: Rand, items: readonly T[]): T => items[int(rand, items.length)] as T
const bytes = (rand: Rand, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rand, 256)))

const TOPICS = ['a', 'a/b', 'a/+/c', '#', '+', '$SYS/x', '$DLQ/y', 'a//b', '/', 'x/'.repeat(150), '\u0000', 'é/ü', '$share/g/a', 'a#', '+a']

function topic (rand: Rand): string {
  return rand() < 0.8 ? pick(rand, TOPICS) : bytes(rand, int(rand, 40)).toString('latin1')
}

/** A valid-looking packet of a random type. */
function validPacket (rand: Rand, connected: boolean): Packet {
  const id = 1 + int(rand, 65535)
  const qos = int(rand, 3) as 0 | 1 | 2
  switch (connected ? int(rand, 9) : 0) {
    case 0: return {
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: rand() < 0.7, keepalive: int(rand, 120),
      clientId: rand() < 0.1 ? '' : `fuzz-${int(rand, 1e6)}`,
      ...(rand() < 0.3 ? { username: 'u', password: bytes(rand, 4) } : {}),
      ...(rand() < 0.2 ? { will: { topic: 'will/t', payload: bytes(rand, 8), qos, retain: rand() < 0.5 } } : {}),
    }
    case 1: case 2: return { cmd: 'publish', topic: topic(rand), payload: bytes(rand, int(rand, 300)), qos, retain: rand() < 0.2, dup: rand() < 0.1, ...(qos > 0 ? { messageId: id } : {}) }
    case 3: return { cmd: 'subscribe', messageId: id, subscriptions: Array.from({ length: 1 + int(rand, 3) }, () => ({ topic: topic(rand), qos })) }
    case 4: return { cmd: 'unsubscribe', messageId: id, unsubscriptions: [topic(rand)] }
    case 5: return { cmd: pick(rand, ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), messageId: id }
    case 6: return { cmd: 'pingreq' }
    case 7: return { cmd: 'disconnect' }
    default: return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 10, clientId: 'again' }
  }
}

function encode (packet: Packet): Buffer {
  try {
    return mqttPacket.generate(packet)
  } catch {
    return Buffer.from([0xc0, 0x00]) // PINGREQ: the generator refused (e.g. a topic it will not encode)
  }
}

/** One hostile packet: random bytes, or a valid packet with a mutation. */
export function hostilePacket (rand: Rand, connected: boolean): Buffer {
  if (rand() < 0.15) return bytes(rand, 1 + int(rand, 64))
  const buf = Buffer.from(encode(validPacket(rand, connected)))
  switch (int(rand, 8)) {
    case 0: return buf // unmodified
    case 1: { // flip bits
      for (let n = 1 + int(rand, 4); n > 0; n--) {
        const at = int(rand, buf.length)
        buf[at] = (buf[at] as number) ^ (1 << int(rand, 8))
      }
      return buf
    }
    case 2: return buf.subarray(0, int(rand, buf.length)) // truncated
    case 3: { // lie about the remaining length
      const copy = Buffer.from(buf)
      copy[1] = int(rand, 256)
      return copy
    }
    case 4: return Buffer.concat([Buffer.from([buf[0] as number, 0xff, 0xff, 0xff, 0x7f]), buf.subarray(2)]) // 256 MiB announced
    case 5: { buf[0] = (buf[0] as number & 0xf0) | int(rand, 16); return buf } // reserved flag bits
    case 6: return Buffer.concat([buf, bytes(rand, int(rand, 32))]) // trailing garbage
    default: { buf[0] = (int(rand, 16) << 4) | (buf[0] as number & 0x0f); return buf } // another type
  }
}

/** Figures from a fuzz run. */
export interface FuzzStats {
  connections: number
  packets: number
  bytes: number
  /** Connections refused or reset at connect (e.g. by caps). */
  failedToOpen: number
}

export interface FuzzOptions {
  host: string
  port: number
  packets: number
  /** Packets sent per connection (at most). */
  perConnection: number
  /** Connections open at once. */
  concurrency: number
  seed: number
}

/**
 * Send `packets` hostile packets over connections of `perConnection` each,
 * `concurrency` at a time. Each connection starts (mostly) with a CONNECT so
 * that the post-CONNECT handlers are reached, then ends its socket and waits
 * for the broker to close it.
 */
export async function runFuzz (options: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = { connections: 0, packets: 0, bytes: 0, failedToOpen: 0 }
  let remaining = options.packets
  let next = 0
  const one = async (seed: number): Promise<void> => {
    const rand = prng(seed)
    const count = Math.min(remaining, 1 + int(rand, options.perConnection))
    remaining -= count
    stats.connections++
    const socket = netConnect({ host: options.host, port: options.port })
    socket.on('data', () => {}) // drain answers
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true))
      socket.once('error', () => resolve(false))
    })
    socket.on('error', () => {})
    if (!opened) {
      stats.failedToOpen++
      // Retry elsewhere, unless the broker is plainly gone.
      remaining = stats.failedToOpen > 100 ? 0 : remaining + count
      return
    }
    let i = 0
    for (; i < count && !socket.destroyed; i++) {
      const packet = i === 0 && rand() < 0.8 ? encode(validPacket(rand, false)) : hostilePacket(rand, i > 0)
      stats.packets++
      stats.bytes += packet.length
      if (!socket.write(packet)) await new Promise<void>((resolve) => { socket.once('drain', resolve); socket.once('close', resolve) })
    }
    remaining += count - i // the broker closed us early: another connection sends the rest
    socket.end()
    // A half-sent packet announcing a huge length waits for bytes forever: our FIN ends it.
    await closed
  }
  const workers = Array.from({ length: options.concurrency }, async () => {
    while (remaining > 0) await one(options.seed * 1_000_003 + next++)
  })
  await Promise.all(workers)
  return stats
}
