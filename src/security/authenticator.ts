import { createHmac, randomBytes } from 'node:crypto'
import type { AuthVerdict } from '../core/hooks.js'
import type { ClientInfo } from '../core/message.js'
import type { PasswordTable } from './password-file.js'
import { DEFAULT_SCRYPT_PARAMS, type ScryptHash, verifyPassword } from './scrypt.js'

/** What decides a CONNECT's credentials. */
export interface AuthenticatorOptions {
  allowAnonymous: boolean
  useCertificateAsUsername: boolean
  /** Password checks allowed to wait for a hashing slot; beyond it CONNACK 0x03. Default 256. */
  maxWaiting?: number
}

/** CONNACK 0x04: bad user name or password [MQTT-3.2.2.3]. */
const BAD_CREDENTIALS: AuthVerdict = { deny: 4 }
/** CONNACK 0x05: not authorized. */
const NOT_AUTHORIZED: AuthVerdict = { deny: 5 }
/** CONNACK 0x03: server unavailable (too many logins waiting). */
const BUSY: AuthVerdict = { deny: 3 }
/** Verified (user, password) pairs remembered so reconnect storms skip scrypt. */
const VERIFIED_CACHE_SIZE = 10_000
/**
 * scrypt runs on libuv's thread pool (4 threads by default), which file I/O
 * shares: a flood of CONNECTs must not starve the session store's writes.
 */
const MAX_CONCURRENT_HASHES = 2
/**
 * A CONNECT flood with usernames would otherwise queue hashes without bound
 * (~50 per second get done at the default cost), holding every waiting
 * connection in memory long after it left. Cached logins skip the queue, so
 * known clients still get in during such a flood.
 */
const DEFAULT_MAX_WAITING = 256

class Busy extends Error {}

/**
 * Checks CONNECT credentials against the password file. It only refuses or
 * passes (`defer`), never `allow`, so plugins later in the chain can still
 * refuse. Unknown users are checked against a dummy hash of the same cost, so
 * timing does not reveal which usernames exist.
 */
export class Authenticator {
  readonly #options: AuthenticatorOptions
  #table: PasswordTable | undefined
  #dummy: ScryptHash
  /** HMAC(user, password) under a per-process key → verified, in LRU order. */
  readonly #verified = new Map<string, true>()
  readonly #cacheKey = randomBytes(32)
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor (options: AuthenticatorOptions, table: PasswordTable | undefined) {
    this.#options = options
    this.#table = table
    this.#dummy = dummyFor(table)
  }

  /** Swap in a reloaded password file; forgets every cached verification. */
  replaceTable (table: PasswordTable | undefined): void {
    this.#table = table
    this.#dummy = dummyFor(table)
    this.#verified.clear()
  }

  /** The `authenticate` hook. */
  async authenticate (client: ClientInfo, username: string | undefined, password: Buffer | undefined): Promise<AuthVerdict> {
    const cn = this.#options.useCertificateAsUsername ? client.certificateCN : undefined
    if (cn !== undefined) {
      // The TLS layer verified the certificate against the listener's CA.
      return username === undefined || username === cn ? 'defer' : BAD_CREDENTIALS
    }
    if (username === undefined) return this.#options.allowAnonymous ? 'defer' : NOT_AUTHORIZED
    const table = this.#table
    if (table === undefined) {
      // No password file: a username is only a label, unless anonymous access is off,
      // in which case nothing can be verified and nobody gets in (as Mosquitto 2).
      return this.#options.allowAnonymous ? 'defer' : NOT_AUTHORIZED
    }
    try {
      return await this.#check(table, username, password ?? Buffer.alloc(0)) ? 'defer' : BAD_CREDENTIALS
    } catch (err) {
      if (err instanceof Busy) return BUSY
      throw err
    }
  }

  async #check (table: PasswordTable, username: string, password: Buffer): Promise<boolean> {
    const hash = table.get(username)
    const cacheKey = createHmac('sha256', this.#cacheKey).update(username).update('\0').update(password).digest('base64')
    if (hash !== undefined && this.#verified.delete(cacheKey)) {
      this.#verified.set(cacheKey, true)
      return true
    }
    const ok = await this.#withSlot(() => verifyPassword(password, hash ?? this.#dummy))
    // A reload may have replaced the table meanwhile: only cache against the current one.
    if (ok && hash !== undefined && this.#table === table) {
      this.#verified.set(cacheKey, true)
      if (this.#verified.size > VERIFIED_CACHE_SIZE) this.#verified.delete(this.#verified.keys().next().value as string)
    }
    return ok && hash !== undefined
  }

  async #withSlot<T> (run: () => Promise<T>): Promise<T> {
    // A finishing hash hands its slot straight to the next waiter, so the count never overshoots.
    if (this.#running < MAX_CONCURRENT_HASHES) this.#running++
    else if (this.#waiting.length >= (this.#options.maxWaiting ?? DEFAULT_MAX_WAITING)) throw new Busy('too many logins waiting')
    else await new Promise<void>((resolve) => this.#waiting.push(resolve))
    try {
      return await run()
    } finally {
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }
}

/**
 * A hash nothing matches, at the cost most entries of the file use: an
 * unknown user then takes as long as most known ones. (An entry hashed at
 * another cost still stands out by its time; the README says so.)
 */
export function dummyFor (table: PasswordTable | undefined): ScryptHash {
  const counts = new Map<string, { hash: ScryptHash, n: number }>()
  let common: { hash: ScryptHash, n: number } | undefined
  for (const hash of table?.values() ?? []) {
    const key = `${hash.N},${hash.r},${hash.p},${hash.key.length}`
    const seen = counts.get(key) ?? { hash, n: 0 }
    seen.n++
    counts.set(key, seen)
    if (common === undefined || seen.n > common.n) common = seen
  }
  const params = common?.hash ?? DEFAULT_SCRYPT_PARAMS
  return { N: params.N, r: params.r, p: params.p, salt: randomBytes(16), key: randomBytes(common?.hash.key.length ?? 32) }
}
