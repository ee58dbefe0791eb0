import type { Duplex } from 'node:stream'
import type { LimitsConfig } from '../config/sections/limits.js'
import { guardNeeded, InboundGuard, type GuardLimits } from '../security/inbound-guard.js'
import { AddressRateLimiter } from '../security/rate-limit.js'

/** MQTT 3.1.1 §2.2.3: the largest remaining length, and a fixed header's most bytes (type + 4 length bytes). */
const MQTT_MAX_PACKET_SIZE = 268_435_455
const MAX_FIXED_HEADER = 5

/** The `limits` keys that act at the socket, before aedes. */
export type SocketLimits = Pick<LimitsConfig, 'maxPacketSize' | 'publishRate' | 'publishBytesRate' | 'throttleDisconnectMs' | 'connectionRatePerIp' | 'connectionBurstPerIp' | 'connectTimeoutMs'>

/**
 * Socket-level limits shared by every MQTT listener of a broker: the per-IP
 * connection rate (one bucket per address across listeners) and the inbound
 * guard (packet size, publish rate). With the defaults both are off and
 * connections reach aedes untouched.
 */
export class SocketPolicy {
  readonly #addresses: AddressRateLimiter | undefined
  readonly #guard: GuardLimits | undefined
  /** TLS handshakes must finish within the CONNECT timeout (Node's default is 120 s). */
  readonly handshakeTimeoutMs: number | undefined
  /**
   * Largest WebSocket message a connection may send. `ws` buffers a message
   * whole before anything reads it (100 MiB by default), so the packet size
   * limit must act there too. One MQTT packet of the largest size with its
   * fixed header fits; a message may also carry several smaller packets
   * [MQTT-6.0.0-2], hence the 64 KiB floor.
   */
  readonly maxWebSocketMessage: number

  constructor (limits: Partial<SocketLimits> = {}) {
    const rate = limits.connectionRatePerIp ?? 0
    this.#addresses = rate > 0 ? new AddressRateLimiter(rate, limits.connectionBurstPerIp ?? 0) : undefined
    const guard: GuardLimits = {
      maxPacketSize: limits.maxPacketSize ?? 0,
      publishRate: limits.publishRate ?? 0,
      publishBytesRate: limits.publishBytesRate ?? 0,
      throttleDisconnectMs: limits.throttleDisconnectMs ?? 0,
    }
    this.#guard = guardNeeded(guard) ? guard : undefined
    this.handshakeTimeoutMs = limits.connectTimeoutMs
    this.maxWebSocketMessage = Math.max((limits.maxPacketSize ?? MQTT_MAX_PACKET_SIZE) + MAX_FIXED_HEADER, 64 * 1024)
  }

  /** Count a new connection from `address` against its rate; false = refuse it (`ConnectionGate.refuse`). */
  admitAddress (address: string | undefined): boolean {
    return this.#addresses === undefined || this.#addresses.admit(address)
  }

  /** The stream aedes should read: the connection itself, or a guard around it. */
  wrap (stream: Duplex): Duplex {
    return this.#guard === undefined ? stream : new InboundGuard(stream, this.#guard)
  }

}
