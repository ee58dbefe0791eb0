import { pino, type DestinationStream, type Logger } from 'pino'
import pretty from 'pino-pretty'

export type { Logger } from 'pino'

export interface LogOptions {
  level: string
  /** Human-readable output; default: on when stdout is a TTY. */
  pretty?: boolean
  /** Where lines go; default stdout. Tests pass a sink here. */
  destination?: DestinationStream
}

/**
 * The root logger. Plugins get `log.child({ plugin })`; clients appear as
 * `clientId`. Credentials and payloads are redacted wherever they appear.
 */
export function createLogger (options: LogOptions): Logger {
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true)
  const destination = options.destination ?? (usePretty ? pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' }) : pino.destination({ sync: false }))
  return pino({
    level: options.level,
    base: { name: 'midge' },
    redact: { paths: ['password', '*.password', 'payload', '*.payload', 'packet.payload'], censor: '[redacted]' },
  }, destination)
}
