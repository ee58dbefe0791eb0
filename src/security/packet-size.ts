/**
 * Follows MQTT packet boundaries in a byte stream by reading only fixed
 * headers (type nibble + remaining length, MQTT 3.1.1 §2.2) and skipping
 * bodies, so limits can act before aedes's parser buffers a packet.
 * mqtt-packet's parser has no size limit: it buffers whatever length a client
 * announces, up to 256 MiB per connection.
 */

/** PUBLISH's packet type [MQTT-2.2.1]. */
export const PUBLISH = 3

/** What the scanner's owner decides at each step. */
export interface ScanHandler {
  /** Before the first byte of each packet: return false to stop there (e.g. throttling). */
  atBoundary(): boolean
  /** A fixed header is complete: `type` 0–15, `size` = header + remaining length. Return false to reject the packet. */
  onHeader(type: number, size: number): boolean
}

/** Why `scan` returned. */
export type ScanOutcome =
  /** The whole chunk was consumed. */
  | 'end'
  /** `atBoundary` said stop; `offset` is the first byte of the next packet. */
  | 'stopped'
  /** `onHeader` refused the packet. */
  | 'rejected'
  /** The remaining length has more than four bytes [MQTT-2.2.3]. */
  | 'malformed'

const AT_BOUNDARY = 0
const IN_LENGTH = 1
const IN_BODY = 2

/** A resumable scanner: chunks may split a header anywhere. */
export class FixedHeaderScanner {
  #state = AT_BOUNDARY
  #type = 0
  #length = 0
  #multiplier = 1
  #headerBytes = 0
  #bodyLeft = 0

  /** Scan `chunk` from `from`; returns where it stopped and why. */
  scan (chunk: Buffer, from: number, handler: ScanHandler): { offset: number, outcome: ScanOutcome } {
    let i = from
    const end = chunk.length
    while (i < end) {
      if (this.#state === IN_BODY) {
        const take = Math.min(this.#bodyLeft, end - i)
        i += take
        this.#bodyLeft -= take
        if (this.#bodyLeft === 0) this.#state = AT_BOUNDARY
        continue
      }
      if (this.#state === AT_BOUNDARY) {
        if (!handler.atBoundary()) return { offset: i, outcome: 'stopped' }
        this.#type = (chunk[i++] as number) >> 4
        this.#length = 0
        this.#multiplier = 1
        this.#headerBytes = 1
        this.#state = IN_LENGTH
        continue
      }
      const byte = chunk[i++] as number
      this.#headerBytes++
      this.#length += (byte & 0x7f) * this.#multiplier
      this.#multiplier *= 128
      if ((byte & 0x80) !== 0) {
        if (this.#headerBytes === 5) return { offset: i, outcome: 'malformed' }
        continue
      }
      if (!handler.onHeader(this.#type, this.#headerBytes + this.#length)) return { offset: i, outcome: 'rejected' }
      this.#bodyLeft = this.#length
      this.#state = this.#length === 0 ? AT_BOUNDARY : IN_BODY
    }
    return { offset: i, outcome: 'end' }
  }
}
