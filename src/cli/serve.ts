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

  let broker: Broker
  try {
    broker = await createBroker(config)
  } catch (err) {
    const message = err instanceof BrokerError ? err.message : (err as Error).stack ?? String(err)
    process.stderr.write(`midge: ${message}\n`)
    process.exit(err instanceof ConfigError ? EXIT_CONFIG : EXIT_RUNTIME)
  }

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      broker.log.warn({ signal }, 'second signal: exiting now')
      process.exit(EXIT_RUNTIME)
    }
    stopping = true
    broker.log.info({ signal }, 'shutting down')
    const timer = setTimeout(() => {
      broker.log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting')
      process.exit(EXIT_RUNTIME)
    }, config.shutdownTimeoutMs)
    timer.unref()
    broker.close().then(() => {
      broker.log.flush()
      process.exit(0)
    }, (err: unknown) => {
      broker.log.error({ err }, 'shutdown failed')
      process.exit(EXIT_RUNTIME)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  // The security plugin logs the outcome; a bad file keeps the previous rules in force.
  process.on('SIGHUP', () => { void reloadSecurity(broker.id) })
  broker.on('error', (err) => broker.log.error({ err }, 'broker error'))
}
