/**
 * Session expiry bookkeeping. aedes never tells the store whether a client is
 * connected, so the plugin does, from broker events (`markOnline` on
 * clientReady, `markOffline` on clientDisconnect). A session whose client has
 * been offline for `sessionExpiry` seconds is removed by the next sweep.
 *
 * Only offline clients carry a timestamp. After a restart every client is
 * offline: those the datafile has no timestamp for (they were online when the
 * broker stopped, or crashed) count as seen at load time, which never expires
 * a session early.
 */

/** Last-seen time of one offline client, with the document that records it. */
export interface SeenRecord {
  at: number
  docId: string
}

export class SessionClock {
  readonly #online = new Set<string>()
  readonly #seen = new Map<string, SeenRecord>()

  /**
   * The client is connected: it cannot expire. Returns the id of its
   * last-seen document, which is obsolete now.
   */
  markOnline (clientId: string): string | undefined {
    this.#online.add(clientId)
    return this.forget(clientId)
  }

  /** The client left at `at`; returns the id of the document this replaces, if any. */
  markOffline (clientId: string, record: SeenRecord): string | undefined {
    this.#online.delete(clientId)
    const previous = this.#seen.get(clientId)
    this.#seen.set(clientId, record)
    return previous?.docId
  }

  /** The client left with nothing stored: no record to keep. Returns the obsolete document id. */
  markGone (clientId: string): string | undefined {
    this.#online.delete(clientId)
    return this.forget(clientId)
  }

  /** Restores a last-seen record from the datafile. */
  restore (clientId: string, record: SeenRecord): void {
    this.#seen.set(clientId, record)
  }

  /** Drops the client's record (its session is gone); returns its document id. */
  forget (clientId: string): string | undefined {
    const previous = this.#seen.get(clientId)
    this.#seen.delete(clientId)
    return previous?.docId
  }

  /** Offline clients with a session (the store's `clients/disconnected`). */
  get offlineCount (): number {
    return this.#seen.size
  }

  isOnline (clientId: string): boolean {
    return this.#online.has(clientId)
  }

  has (clientId: string): boolean {
    return this.#online.has(clientId) || this.#seen.has(clientId)
  }

  lastSeen (clientId: string): number | undefined {
    return this.#seen.get(clientId)?.at
  }

  /** Offline clients last seen at or before `now - expiryMs`. */
  expired (now: number, expiryMs: number): string[] {
    const out: string[] = []
    for (const [clientId, seen] of this.#seen) {
      if (!this.#online.has(clientId) && seen.at + expiryMs <= now) out.push(clientId)
    }
    return out
  }

  /** Offline clients with a record. */
  offline (): IterableIterator<string> {
    return this.#seen.keys()
  }
}

/**
 * How often to sweep: often enough that a session outlives its expiry by at
 * most a quarter of it, at most once a minute and at least once a second.
 */
export function sweepIntervalMs (sessionExpirySeconds: number): number {
  return Math.min(60_000, Math.max(1_000, Math.floor(sessionExpirySeconds * 1000 / 4)))
}
