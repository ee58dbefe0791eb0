/**
 * Token buckets for the socket-level limits. Time is `performance.now()`
 * (monotonic), injectable for tests.
 */

/** A clock in milliseconds. */
export type Clock = () => number

const defaultClock: Clock = () => performance.now()

/**
 * A token bucket that may go into debt: a take larger than what is left is
 * still granted and the bucket goes negative, so a packet bigger than the burst
 * is slowed, never stuck. `waitMs()` says how long until it is out of debt.
 */
export class TokenBucket {
  readonly #rate: number
  readonly #capacity: number
  readonly #clock: Clock
  #tokens: number
  #last: number

  /** `rate` tokens per second, at most `capacity` saved up (starts full). */
  constructor (rate: number, capacity: number, clock: Clock = defaultClock) {
    if (!(rate > 0) || !(capacity > 0)) throw new RangeError('rate and capacity must be > 0')
    this.#rate = rate
    this.#capacity = capacity
    this.#clock = clock
    this.#tokens = capacity
    this.#last = clock()
  }

  /** Tokens available now (negative in debt). */
  get tokens (): number {
    this.#refill()
    return this.#tokens
  }

  /** Take `n` tokens, going into debt if needed. */
  take (n: number): void {
    this.#refill()
    this.#tokens -= n
  }

  /** Take one token if there is one. */
  tryTake (): boolean {
    this.#refill()
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Milliseconds until the bucket is out of debt; 0 if it is not in debt. */
  waitMs (): number {
    this.#refill()
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000)
  }

  /** Is it full (idle long enough to forget)? */
  get full (): boolean {
    this.#refill()
    return this.#tokens >= this.#capacity
  }

  #refill (): void {
    const now = this.#clock()
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) / 1000) * this.#rate)
    this.#last = now
  }
}

/** Per-connection publish limits: messages/s and bytes/s, burst of one second each. */
export class PublishLimiter {
  readonly #messages: TokenBucket | undefined
  readonly #bytes: TokenBucket | undefined

  constructor (messagesPerSecond: number, bytesPerSecond: number, clock: Clock = defaultClock) {
    this.#messages = messagesPerSecond > 0 ? new TokenBucket(messagesPerSecond, Math.max(1, messagesPerSecond), clock) : undefined
    this.#bytes = bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, bytesPerSecond, clock) : undefined
  }

  /** Charge one PUBLISH of `size` bytes. */
  charge (size: number): void {
    this.#messages?.take(1)
    this.#bytes?.take(size)
  }

  /** Milliseconds before the next packet may be read; 0 = now. */
  waitMs (): number {
    return Math.max(this.#messages?.waitMs() ?? 0, this.#bytes?.waitMs() ?? 0)
  }
}

/** Buckets kept before idle ones are swept. */
const SWEEP_AT = 10_000

/**
 * New connections per second per remote address. Memory stays bounded:
 * once the map holds `SWEEP_AT` addresses, buckets that have refilled (idle
 * addresses) are dropped; if all are busy the map is cleared, which briefly
 * forgets the rate rather than growing without end under a spoofed-address flood.
 */
export class AddressRateLimiter {
  readonly #rate: number
  readonly #burst: number
  readonly #clock: Clock
  readonly #buckets = new Map<string, TokenBucket>()

  constructor (ratePerSecond: number, burst: number, clock: Clock = defaultClock) {
    this.#rate = ratePerSecond
    this.#burst = burst > 0 ? burst : Math.max(1, Math.ceil(ratePerSecond))
    this.#clock = clock
  }

  /** Admit one more connection from `address`? */
  admit (address: string | undefined): boolean {
    const key = address ?? ''
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep()
      bucket = new TokenBucket(this.#rate, this.#burst, this.#clock)
      this.#buckets.set(key, bucket)
    }
    return bucket.tryTake()
  }

  /** Addresses tracked (for tests). */
  get size (): number {
    return this.#buckets.size
  }

  #sweep (): void {
    for (const [key, bucket] of this.#buckets) if (bucket.full) this.#buckets.delete(key)
    if (this.#buckets.size >= SWEEP_AT) this.#buckets.clear()
  }
}
