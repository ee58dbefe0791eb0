import type { Duplex } from 'node:stream'
import type { LimitsConfig } from '../config/sections/limits.js'
import { guardNeeded, InboundGuard, type GuardLimits } from '../security/inbound-guard.js'
import { AddressRateLimiter } from '../security/rate-limit.js'

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
  #rateRefused = 0

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
  }

  /** Count a new connection from `address` against its rate; false = refuse it. */
  admitAddress (address: string | undefined): boolean {
    if (this.#addresses === undefined || this.#addresses.admit(address)) return true
    this.#rateRefused++
    return false
  }

  /** The stream aedes should read: the connection itself, or a guard around it. */
  wrap (stream: Duplex): Duplex {
    return this.#guard === undefined ? stream : new InboundGuard(stream, this.#guard)
  }

  /** Connections refused by the per-IP rate since start. */
  get rateRefused (): number {
    return this.#rateRefused
  }
}
