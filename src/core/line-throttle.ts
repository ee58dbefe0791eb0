/**
 * At most one log line per key and interval: the ones held back are counted
 * and reported with the key's next line. For events that come in floods when
 * they come at all (a queue overflowing, a limit refusing a reconnect storm),
 * where a line each would bury everything else and none would hide them.
 */
export class LineThrottle {
  readonly #recent = new Map<string, { at: number, since: number }>()

  constructor (readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** undefined: hold this line back (it is counted); else how many were held back since the key's last line. */
  pass (key: string): number | undefined {
    const t = this.now()
    const seen = this.#recent.get(key)
    if (seen !== undefined && t - seen.at < this.intervalMs) {
      seen.since++
      return undefined
    }
    if (this.#recent.size >= 10_000) for (const [k, v] of this.#recent) if (t - v.at >= this.intervalMs) this.#recent.delete(k)
    this.#recent.set(key, { at: t, since: 0 })
    return seen?.since ?? 0
  }
}

/** An error as a throttled line names it: its code (ENOSPC, ECONNREFUSED) or else its message, without the stack. */
export function errorReason (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.message : String(err)
}
