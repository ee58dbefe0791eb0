import { createBroker } from '../broker.js'
import { loadConfig, type ConfigOverrides } from '../config/load.js'
import { BrokerError, ConfigError } from '../errors.js'
import { reloadSecurity } from '../security/reload.js'
import type { Broker } from '../broker.js'

/** Exit codes: 0 clean stop, 1 runtime failure (e.g. port in use), 2 bad config. */
export const EXIT_RUNTIME = 1
export const EXIT_CONFIG = 2

/**
 * `midge` with no subcommand: load config, start, stop cleanly on SIGINT/SIGTERM
 * within `shutdownTimeoutMs`; a second signal exits at once. SIGHUP re-reads
 * the password and ACL files without dropping connections.
 *
 * The handlers are installed before the broker starts (loading a large store
 * takes a while): a stop signal during start stops the broker as soon as it
 * is up, and a SIGHUP then (log rotation, config management) is ignored
 * rather than ending the process, its default action.
 */
export async function runServer (options: { file?: string | undefined, overrides: ConfigOverrides }): Promise<void> {
  let config
  try {
    config = loadConfig({ file: options.file, overrides: options.overrides, env: process.env })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`midge: ${err.message}\n`)
      process.exit(EXIT_CONFIG)
    }
    throw err
  }

  let broker: Broker | undefined
  let stopRequested: string | undefined
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping || stopRequested !== undefined) {
      process.stderr.write(`midge: second signal (${signal}): exiting now\n`)
      process.exit(EXIT_RUNTIME)
    }
    if (broker === undefined) {
      stopRequested = signal
      return
    }
    stopping = true
    const running = broker
    running.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => {
      running.log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting')
      process.exit(EXIT_RUNTIME)
    }, config.shutdownTimeoutMs)
    timer.unref()
    running.close().then(() => {
      running.log.flush()
      process.exit(0)
    }, (err: unknown) => {
      running.log.error({ err }, 'shutdown failed')
      process.exit(EXIT_RUNTIME)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  // The security plugin logs the outcome; a bad file keeps the previous rules in force.
  process.on('SIGHUP', () => { if (broker !== undefined) void reloadSecurity(broker.id) })

  try {
    broker = await createBroker(config)
  } catch (err) {
    const configError = findConfigError(err)
    // A broker error's code leads its line: the README and scripts know them by it (ERR_LISTEN, ERR_STORE_CORRUPT).
    const message = configError?.message ?? (err instanceof BrokerError ? `${err.code}: ${err.message}` : (err as Error).stack ?? String(err))
    process.stderr.write(`midge: ${message}\n`)
    process.exit(configError !== undefined ? EXIT_CONFIG : EXIT_RUNTIME)
  }
  if (stopRequested !== undefined) {
    const signal = stopRequested
    stopRequested = undefined
    stop(signal)
  }
}

/** A config error, also one a plugin raised while registering (e.g. an unreadable ACL file). */
function findConfigError (err: unknown): ConfigError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof ConfigError) return e
  }
  return undefined
}
