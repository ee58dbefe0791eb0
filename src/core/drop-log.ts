import type { Logger } from 'pino'
import type { BrokerEvents } from './events.js'

/** One warn line per client (or group) and reason at most this often. */
export const DROP_LOG_INTERVAL_MS = 60_000

/**
 * Dropped messages are counted in `/metrics` and `$SYS`, which do not say
 * whose they were; one line per message at debug was a flood (8,959 lines for
 * one overflowing queue) and nothing at info. So: the first drop of a client
 * and reason is a warn line, later ones within the interval are counted and
 * reported with the next line.
 */
export function logDrops (events: BrokerEvents, log: Logger, intervalMs = DROP_LOG_INTERVAL_MS, now: () => number = Date.now): void {
  const recent = new Map<string, { at: number, since: number }>()
  events.on('drop', (drop) => {
    const key = `${drop.reason}\u0000${drop.clientId ?? ''}\u0000${drop.group ?? ''}`
    const t = now()
    const seen = recent.get(key)
    if (seen !== undefined && t - seen.at < intervalMs) {
      seen.since++
      return
    }
    log.warn({ reason: drop.reason, clientId: drop.clientId, group: drop.group, topic: drop.message.topic, droppedSinceLastLine: seen?.since ?? 0, intervalMs },
      'message dropped; more drops for this client and reason are counted and logged at most once per interval')
    if (recent.size >= 10_000) for (const [k, v] of recent) if (t - v.at >= intervalMs) recent.delete(k)
    recent.set(key, { at: t, since: 0 })
  })
}
