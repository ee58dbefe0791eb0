import type { Logger } from 'pino'
import type { BrokerEvents } from './events.js'
import { LineThrottle } from './line-throttle.js'

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
  const lines = new LineThrottle(intervalMs, now)
  events.on('drop', (drop) => {
    const droppedSinceLastLine = lines.pass(`${drop.reason}\u0000${drop.clientId ?? ''}\u0000${drop.group ?? ''}`)
    if (droppedSinceLastLine === undefined) return
    log.warn({ reason: drop.reason, clientId: drop.clientId, group: drop.group, topic: drop.message.topic, droppedSinceLastLine, intervalMs },
      'message dropped; more drops for this client and reason are counted and logged at most once per interval')
  })
}
