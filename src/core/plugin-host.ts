import type { Logger } from 'pino'
import { PluginError } from '../errors.js'
import type { BrokerApi, Plugin } from './plugin-api.js'
import { beforeDeadline, LATE } from './deadline.js'

/** A plugin with the options it is registered with. */
export interface PluginEntry {
  plugin: Plugin<never>
  options: unknown
}

type ApiFactory = (plugin: Plugin<never>) => BrokerApi

/**
 * Registers plugins in order, each bounded by `timeoutMs`; checks names and
 * dependencies first so a bad set fails before anything starts. Close
 * handlers run in reverse registration order (LIFO, as avvio does).
 */
export class PluginHost {
  readonly #closeHandlers: Array<{ plugin: string, run: () => void | Promise<void> }> = []
  readonly #log: Logger
  #registering: string | undefined

  constructor (log: Logger) {
    this.#log = log
  }

  /** Name of the plugin whose `register` is running, if any. */
  get registering (): string | undefined {
    return this.#registering
  }

  static validate (entries: readonly PluginEntry[]): void {
    const seen = new Set<string>()
    for (const { plugin } of entries) {
      if (typeof plugin?.name !== 'string' || plugin.name === '' || typeof plugin.register !== 'function') {
        throw new PluginError('ERR_PLUGIN_INVALID', String(plugin?.name), 'a plugin needs a name and a register function (use definePlugin)')
      }
      if (seen.has(plugin.name)) {
        throw new PluginError('ERR_PLUGIN_DUPLICATE', plugin.name, `plugin "${plugin.name}" is registered twice`)
      }
      for (const dep of plugin.dependencies ?? []) {
        if (!seen.has(dep)) {
          throw new PluginError('ERR_PLUGIN_DEPENDENCY', plugin.name, `plugin "${plugin.name}" depends on "${dep}", which is not registered before it`)
        }
      }
      seen.add(plugin.name)
    }
  }

  async registerAll (entries: readonly PluginEntry[], apiFor: ApiFactory, timeoutMs: number): Promise<void> {
    PluginHost.validate(entries)
    for (const { plugin, options } of entries) {
      this.#registering = plugin.name
      const started = Date.now()
      try {
        await withTimeout(Promise.resolve().then(() => plugin.register(apiFor(plugin), options as never)), timeoutMs, plugin.name)
      } catch (err) {
        if (err instanceof PluginError) throw err
        throw new PluginError('ERR_PLUGIN_REGISTER', plugin.name, `plugin "${plugin.name}" failed to register: ${(err as Error).message}`, { cause: err })
      } finally {
        this.#registering = undefined
      }
      this.#log.debug({ plugin: plugin.name, ms: Date.now() - started }, 'plugin registered')
    }
  }

  onClose (plugin: string, run: () => void | Promise<void>): void {
    this.#closeHandlers.push({ plugin, run })
  }

  /** Runs the close handlers LIFO; one that fails, or takes longer than `timeoutMs`, is logged and the rest still run. */
  async closeAll (timeoutMs: number): Promise<void> {
    while (this.#closeHandlers.length > 0) {
      const handler = this.#closeHandlers.pop()
      if (handler === undefined) break
      try {
        const outcome = await beforeDeadline(Promise.resolve().then(() => handler.run()), timeoutMs)
        if (outcome === LATE) this.#log.error({ plugin: handler.plugin, timeoutMs }, 'plugin close handler did not finish in time; closing the rest')
      } catch (err) {
        this.#log.error({ err, plugin: handler.plugin }, 'plugin close handler failed')
      }
    }
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number, plugin: string): Promise<T> {
  const outcome = await beforeDeadline(promise, ms)
  if (outcome === LATE) throw new PluginError('ERR_PLUGIN_TIMEOUT', plugin, `plugin "${plugin}" did not register within ${ms} ms`)
  return outcome
}
