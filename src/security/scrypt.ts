import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * scrypt password hashes in a self-describing text form:
 * `$scrypt$N=16384,r=8,p=1$<salt>$<key>` (salt and key in unpadded base64).
 * The cost travels with each hash, so raising it later only affects new hashes.
 */

/** scrypt cost parameters (RFC 7914 §2). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory used is 128 · N · r bytes. */
  readonly N: number
  /** Block size. */
  readonly r: number
  /** Parallelism. */
  readonly p: number
}

/** A parsed hash: parameters, salt and derived key. */
export interface ScryptHash extends ScryptParams {
  readonly salt: Buffer
  readonly key: Buffer
}

/**
 * Default cost: N = 2^14, r = 8 (16 MiB, ~40 ms on one core). OWASP asks for
 * 2^17 (128 MiB), too much per login for small edge boxes; `midge passwd
 * --cost` raises it per hash.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ N: 16_384, r: 8, p: 1 })

const SALT_BYTES = 16
const KEY_BYTES = 32
/** Refuse parameters that would need more than 1 GiB per verification (a corrupt or hostile file). */
const MAX_MEMORY = 1024 * 1024 * 1024
const HASH_PATTERN = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/

/** Why `params` cannot be used, or undefined. */
export function scryptParamsError (params: ScryptParams): string | undefined {
  const { N, r, p } = params
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0) return `N must be a power of two ≥ 2, got ${N}`
  if (!Number.isSafeInteger(r) || r < 1 || r > 64) return `r must be 1–64, got ${r}`
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) return `p must be 1–16, got ${p}`
  if (128 * N * r > MAX_MEMORY) return `N·r too large: needs ${128 * N * r} bytes (max ${MAX_MEMORY})`
  return undefined
}

function derive (password: Buffer | string, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 }
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (err, key) => { err ? reject(err) : resolve(key) })
  })
}

/** Hash `password` with a fresh random salt. Throws a RangeError for bad parameters. */
export async function hashPassword (password: string | Buffer, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const invalid = scryptParamsError(params)
  if (invalid !== undefined) throw new RangeError(invalid)
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, KEY_BYTES, params)
  return formatHash({ ...params, salt, key })
}

/** The text form of a hash. */
export function formatHash (hash: ScryptHash): string {
  const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '')
  return `$scrypt$N=${hash.N},r=${hash.r},p=${hash.p}$${b64(hash.salt)}$${b64(hash.key)}`
}

/** Parse a hash's text form; throws an Error saying what is wrong. */
export function parseHash (text: string): ScryptHash {
  const m = HASH_PATTERN.exec(text)
  if (m === null) throw new Error('not a $scrypt$N=…,r=…,p=…$salt$key hash')
  const [, n, r, p, salt, key] = m as unknown as [string, string, string, string, string, string]
  const params = { N: Number(n), r: Number(r), p: Number(p) }
  const invalid = scryptParamsError(params)
  if (invalid !== undefined) throw new Error(invalid)
  const hash = { ...params, salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') }
  if (hash.salt.length < 8) throw new Error('salt shorter than 8 bytes')
  if (hash.key.length < 16) throw new Error('key shorter than 16 bytes')
  return hash
}

/**
 * Does `password` match `hash`? Always derives a full key and compares in
 * constant time, so the time taken says nothing about how close it was.
 */
export async function verifyPassword (password: Buffer | string, hash: ScryptHash): Promise<boolean> {
  const derived = await derive(password, hash.salt, hash.key.length, hash)
  return timingSafeEqual(derived, hash.key)
}
