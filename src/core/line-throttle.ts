/** The key that new keys share once `maxKeys` are live (no caller's key starts with U+0000). */
const OTHER_KEYS = '\u0000other'

/**
 * At most one log line per key and interval: the ones held back are counted
 * and reported with the key's next line. For events that come in floods when
 * they come at all (a queue overflowing, a limit refusing a reconnect storm),
 * where a line each would bury everything else and none would hide them.
 *
 * Keys should name a kind of event, not carry what a client sent; and they are
 * bounded anyway: past `maxKeys` live keys, new ones share one key, so a flood
 * of distinct keys costs neither memory nor more than a line per interval.
 */
export class LineThrottle {
  readonly #recent = new Map<string, { at: number, since: number }>()
  #prunedAt = -Infinity

  constructor (readonly intervalMs: number, private readonly now: () => number = Date.now, private readonly maxKeys = 1000) {}

  /** undefined: hold this line back (it is counted); else how many were held back since the key's last line. */
  pass (key: string): number | undefined {
    const t = this.now()
    if (this.#recent.size >= this.maxKeys && !this.#recent.has(key)) {
      if (t - this.#prunedAt >= this.intervalMs) this.#prune(t)
      if (this.#recent.size >= this.maxKeys) key = OTHER_KEYS
    }
    const seen = this.#recent.get(key)
    if (seen !== undefined && t - seen.at < this.intervalMs) {
      seen.since++
      return undefined
    }
    this.#recent.set(key, { at: t, since: 0 })
    return seen?.since ?? 0
  }

  /** Forget the keys whose interval is over (at most once an interval: a flood of new keys must not scan each time). */
  #prune (t: number): void {
    this.#prunedAt = t
    for (const [k, v] of this.#recent) if (t - v.at >= this.intervalMs) this.#recent.delete(k)
  }
}

/** An error as a throttled line names it: its code (ENOSPC, ECONNREFUSED) or else its message, without the stack. */
export function errorReason (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  return err instanceof Error ? err.message : String(err)
}

/**
 * The kind of a failure, for a throttle key, from its message: the spec statement it names, if any
 * (the message may quote what the client sent), else the message with its numbers masked, cut short.
 */
export function reasonKind (message: string): string {
  const statement = /\[MQTT-[0-9.]+-[0-9]+\]/.exec(message)
  if (statement !== null) return statement[0]
  return message.replace(/[0-9]+/g, '#').slice(0, 80)
}
