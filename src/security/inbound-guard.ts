import { Duplex } from 'node:stream'
import { MQTT_MAX_PACKET_SIZE } from '../config/sections/limits.js'
import { FixedHeaderScanner, PUBLISH, type ScanHandler } from './packet-size.js'
import { type Clock, PublishLimiter } from './rate-limit.js'

/** The limits an {@link InboundGuard} enforces; 0 turns one off. */
export interface GuardLimits {
  /** Largest packet in bytes, fixed header included. */
  maxPacketSize: number
  /** PUBLISH packets per second. */
  publishRate: number
  /** PUBLISH bytes per second. */
  publishBytesRate: number
  /** Close a connection throttled without a break for this long. */
  throttleDisconnectMs: number
}

/** Throttling that resumes within this long of the last pause continues the same episode. */
const EPISODE_GAP_MS = 1_000

/** Is any limit on? Without one, connections go to aedes unwrapped (no cost). */
export function guardNeeded (limits: GuardLimits): boolean {
  return (limits.maxPacketSize > 0 && limits.maxPacketSize < MQTT_MAX_PACKET_SIZE) || limits.publishRate > 0 || limits.publishBytesRate > 0
}

/**
 * Sits between a connection's byte stream and aedes. It reads fixed headers
 * only ({@link FixedHeaderScanner}) and
 *
 * - closes the connection when a packet announces more than `maxPacketSize`
 *   bytes, before any of the body is buffered;
 * - charges each PUBLISH to the connection's token buckets and, when they are
 *   in debt, stops at the next packet boundary and stops reading the source
 *   until they refill: the kernel buffers fill and TCP flow control slows the
 *   publisher. Nothing is dropped;
 * - optionally closes a connection that stays throttled `throttleDisconnectMs`.
 *
 * Writes pass straight through (with backpressure).
 */
export class InboundGuard extends Duplex {
  readonly #source: Duplex
  readonly #scanner = new FixedHeaderScanner()
  readonly #limiter: PublishLimiter | undefined
  readonly #handler: ScanHandler
  readonly #clock: Clock
  readonly #throttleDisconnectMs: number
  /** Bytes read from the source but held back while throttled. */
  #held: Buffer | undefined
  #timer: NodeJS.Timeout | undefined
  /** aedes is not reading: the source is paused until `_read`. */
  #backpressured = false
  #sourceEnded = false
  #throttledSince: number | undefined
  #lastResumeAt = Number.NEGATIVE_INFINITY
  #rejectedSize = 0
  #pendingWrite: (() => void) | undefined

  constructor (source: Duplex, limits: GuardLimits, clock: Clock = () => performance.now()) {
    super({ allowHalfOpen: false })
    this.#source = source
    this.#clock = clock
    this.#throttleDisconnectMs = limits.throttleDisconnectMs
    this.#limiter = limits.publishRate > 0 || limits.publishBytesRate > 0
      ? new PublishLimiter(limits.publishRate, limits.publishBytesRate, clock)
      : undefined
    const limiter = this.#limiter
    const maxSize = limits.maxPacketSize > 0 ? limits.maxPacketSize : MQTT_MAX_PACKET_SIZE
    this.#handler = {
      atBoundary: () => limiter === undefined || limiter.waitMs() === 0,
      onHeader: (type, size) => {
        if (size > maxSize) {
          this.#rejectedSize = size
          return false
        }
        if (type === PUBLISH) limiter?.charge(size)
        return true
      },
    }
    source.on('data', (chunk: Buffer) => this.#onData(chunk))
    source.on('end', () => {
      this.#sourceEnded = true
      if (this.#held === undefined) this.push(null)
    })
    // A peer that sent its last packets and closed (FIN) while throttled still gets them
    // processed, as it would unguarded: only then do we end. A reset drops them, as it would.
    source.on('error', (err: Error) => { if (!this.#deliveringAfterEnd) this.destroy(err) })
    source.on('close', () => { if (!this.destroyed && !this.#deliveringAfterEnd) this.destroy() })
    source.on('drain', () => {
      const resume = this.#pendingWrite
      this.#pendingWrite = undefined
      resume?.()
    })
  }

  /** Is the connection paused for its publish rate right now? */
  get throttled (): boolean {
    return this.#timer !== undefined
  }

  override _read (): void {
    this.#backpressured = false
    if (this.#timer === undefined && this.#held === undefined) this.#source.resume()
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#source.writable) return callback() // the peer is gone: answers go nowhere, as on a closed socket
    if (this.#source.write(chunk)) callback()
    else this.#pendingWrite = () => callback()
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    if (!this.#source.writable) return callback()
    // aedes writes one packet in several writes (mqtt-packet corks us): pass them on as one batch.
    this.#source.cork()
    let ok = true
    for (const { chunk } of chunks) ok = this.#source.write(chunk)
    this.#source.uncork()
    if (ok) callback()
    else this.#pendingWrite = () => callback()
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#source.end()
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#held = undefined
    this.#pendingWrite = undefined
    this.#source.destroy()
    callback(error)
  }

  /** The source ended cleanly while bytes are held: finish them before ending. */
  get #deliveringAfterEnd (): boolean {
    return this.#sourceEnded && this.#held !== undefined
  }

  #onData (chunk: Buffer): void {
    if (this.#held !== undefined) {
      // A chunk already on its way when we paused.
      this.#held = Buffer.concat([this.#held, chunk])
      return
    }
    this.#process(chunk)
  }

  #process (chunk: Buffer): void {
    const { offset, outcome } = this.#scanner.scan(chunk, 0, this.#handler)
    switch (outcome) {
      case 'end':
        this.#forward(chunk)
        return
      case 'stopped':
        if (offset > 0) this.#forward(chunk.subarray(0, offset))
        this.#held = chunk.subarray(offset)
        this.#throttle()
        return
      case 'rejected':
        this.destroy(new Error(`packet of ${this.#rejectedSize} bytes exceeds maxPacketSize`))
        return
      case 'malformed':
        this.destroy(new Error('malformed remaining length [MQTT-2.2.3]'))
    }
  }

  #forward (bytes: Buffer): void {
    if (!this.push(bytes) && !this.#backpressured) {
      this.#backpressured = true
      this.#source.pause()
    }
  }

  #throttle (): void {
    this.#source.pause()
    const now = this.#clock()
    if (this.#throttledSince === undefined || now - this.#lastResumeAt > EPISODE_GAP_MS) this.#throttledSince = now
    if (this.#throttleDisconnectMs > 0 && now - this.#throttledSince >= this.#throttleDisconnectMs) {
      this.destroy(new Error(`publish rate exceeded for ${Math.round(now - this.#throttledSince)} ms`))
      return
    }
    this.#timer = setTimeout(() => this.#resume(), Math.max(1, this.#limiter?.waitMs() ?? 1))
  }

  #resume (): void {
    this.#timer = undefined
    if (this.destroyed) return
    this.#lastResumeAt = this.#clock()
    const held = this.#held
    this.#held = undefined
    if (held !== undefined && held.length > 0) this.#process(held)
    if (this.#held !== undefined || this.destroyed) return
    if (this.#sourceEnded) this.push(null)
    else if (!this.#backpressured) this.#source.resume()
  }
}
