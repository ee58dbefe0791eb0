import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { DestinationStream, Logger } from 'pino'
import aedesPersistence from 'aedes-persistence'
import { builtinPlugins, type BuiltinPluginName } from './builtin-plugins.js'
import { isValidatedConfig, validateConfig } from './config/load.js'
import type { BrokerConfig, BrokerConfigInput, ListenerConfig } from './config/schema.js'
import { AedesAdapter } from './core/aedes-adapter.js'
import { logDrops } from './core/drop-log.js'
import { LineThrottle, reasonKind } from './core/line-throttle.js'
import { BrokerEvents, type BrokerEventMap } from './core/events.js'
import { HookRegistry } from './core/hooks.js'
import type { ClientInfo, Message } from './core/message.js'
import type { BrokerApi, BrokerStats, EmitterFactory, PersistenceDecorator, PersistenceFactory, PersistenceOptions, Plugin } from './core/plugin-api.js'
import { type PluginEntry, PluginHost } from './core/plugin-host.js'
import { BrokerError } from './errors.js'
import { ConnectionGate } from './listeners/connection-gate.js'
import { HttpRoutes } from './listeners/http.js'
import { startListeners } from './listeners/start.js'
import type { BoundAddress, ConnectionHandler, RunningListener } from './listeners/types.js'
import { createLogger } from './log.js'
import { createMetricsRegistry, type MetricsRegistry } from './sys/metrics.js'

/** A plugin, or a plugin with its options. */
export type PluginSpec = Plugin<never> | readonly [Plugin<never>, unknown]

export interface BrokerOptions {
  /** Plugins registered after the built-in ones, in order. */
  plugins?: readonly PluginSpec[]
  /**
   * Built-in plugins to leave out, e.g. `['sys']` for a gateway that reports
   * through its own channel. Without `persistent-sessions` the store is
   * aedes's in-memory one; without `priority-delivery` there is no inflight
   * window (every delivery is written at once, as plain aedes does).
   */
  omitBuiltins?: readonly BuiltinPluginName[]
  /** Use this logger instead of creating one from the config. */
  logger?: Logger
  /** Send log lines here instead of stdout (tests, embedding). */
  logDestination?: DestinationStream
}

/** A running broker: what `createBroker` returns to an embedding application. */
export interface Broker {
  readonly id: string
  readonly config: Readonly<BrokerConfig>
  readonly log: Logger
  readonly metrics: MetricsRegistry
  /** Where each listener is bound (port 0 resolved); none once `close()` has finished. */
  addresses(): BoundAddress[]
  /** Publish as the broker itself. Resolves once stored and routed. */
  publish(message: Message): Promise<void>
  /** Receive every message matching `filter`; returns the unsubscribe call. */
  subscribe(filter: string, handler: (message: Message) => void | Promise<void>): Promise<() => Promise<void>>
  /** Listen to broker events (`clientReady`, `publish`, `drop`, …). */
  on<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this
  off<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this
  /** Serve an MQTT client over any duplex stream, with no listener (in-process clients, tests, bridges). */
  attach(stream: Duplex, name?: string): ClientInfo
  stats(): BrokerStats
  /** Stop accepting, disconnect clients, close plugins (LIFO) and the store. Idempotent. */
  close(): Promise<void>
}

/** One line per listener and reason this often at most: refusals come in floods (a reconnect storm over a limit). */
const CONNECTION_LOG_INTERVAL_MS = 60_000

/**
 * Build and start a broker: validate the config, register plugins in order,
 * start aedes on the chosen store and emitter, then bind the listeners.
 */
export async function createBroker (input: BrokerConfigInput | Readonly<BrokerConfig> = {}, options: BrokerOptions = {}): Promise<Broker> {
  const config = isValidatedConfig(input) ? input : validateConfig(input)
  const log = options.logger ?? createLogger({ level: config.logLevel, pretty: config.logPretty, destination: options.logDestination })
  const id = config.id ?? randomUUID()
  const startedAt = Date.now()
  const hooks = new HookRegistry()
  const events = new BrokerEvents((event, err) => { log.error({ err, event }, 'a broker event listener threw; the broker goes on') })
  const metrics = createMetricsRegistry()
  logDrops(events, log)
  const routes = new HttpRoutes()
  const refusals = new LineThrottle(CONNECTION_LOG_INTERVAL_MS)
  const gate = new ConnectionGate(config.limits.maxConnections, ({ refused, ...line }) => {
    const sinceLastLine = refusals.pass(`${line.listener}\u0000${reasonKind(line.reason)}`)
    if (sinceLastLine !== undefined) log.info({ ...line, sinceLastLine }, refused ? 'connection refused' : 'connection failed before MQTT')
  })
  const host = new PluginHost(log)
  const startHandlers: Array<{ plugin: string, run: () => void | Promise<void> }> = []
  let persistenceFactory: PersistenceFactory | undefined
  let persistenceOptions: PersistenceOptions = {}
  let emitterFactory: EmitterFactory | undefined
  const persistenceDecorators: PersistenceDecorator[] = []
  let adapter: AedesAdapter | undefined
  /** Every listener, in config order; HTTP ones start first and stop last (see below). */
  let listeners: RunningListener[] = []
  let httpListeners: RunningListener[] = []
  let ready = false
  /** Conditions of /ready that plugins added (`addReadinessCheck`). */
  const readinessChecks: Array<{ name: string, check: () => string | undefined }> = []
  /** Streams given to `attach()`: one that never sent CONNECT is no aedes client, and would outlive close(). */
  const attached = new Set<Duplex>()

  const running = (): AedesAdapter => {
    if (adapter === undefined) throw new BrokerError('ERR_NOT_STARTED', 'the broker is not started yet: use onStart() for work that needs it')
    return adapter
  }
  /** The running broker, for its public API: after close() every call is refused with one error. */
  const open = (): AedesAdapter => {
    if (closing !== undefined) throw new BrokerError('ERR_BROKER_CLOSED', 'the broker is closed')
    return running()
  }
  const stats = (): BrokerStats => ({ ...gate.stats(), connectedClients: adapter?.connectedClients ?? 0, uptimeMs: Date.now() - startedAt })

  const apiFor = (plugin: Plugin<never>): BrokerApi => {
    const onlyDuringRegister = (what: string): void => {
      if (host.registering !== plugin.name) throw new BrokerError('ERR_PLUGIN_PHASE', `${plugin.name}: ${what} is only allowed during register()`)
    }
    return {
      id,
      log: log.child({ plugin: plugin.name }),
      config,
      hooks: hooks.scoped(plugin.name),
      events,
      metrics,
      publish: (message) => running().publish(message),
      subscribe: (filter, handler) => running().subscribe(filter, handler),
      deliverTo: (client, packet) => running().deliverTo(client, packet),
      clientOf: (storeClient) => adapter?.clientOf(storeClient),
      stats,
      addHttpRoute: (path, route) => routes.add(path, route),
      addReadinessCheck: (name, check) => { readinessChecks.push({ name: `${plugin.name}/${name}`, check }) },
      usePersistence: (factory, options = {}) => {
        onlyDuringRegister('usePersistence')
        persistenceFactory = factory
        persistenceOptions = options
      },
      decoratePersistence: (decorator) => { onlyDuringRegister('decoratePersistence'); persistenceDecorators.push(decorator) },
      useEmitter: (factory) => { onlyDuringRegister('useEmitter'); emitterFactory = factory },
      onStart: (run) => { startHandlers.push({ plugin: plugin.name, run }) },
      onClose: (run) => host.onClose(plugin.name, run),
    }
  }

  routes.add('/health', () => ({ status: 200, contentType: 'application/json', body: JSON.stringify({ status: 'ok', uptimeMs: Date.now() - startedAt }) + '\n' }))
  routes.add('/ready', () => {
    if (!ready) return { status: 503, contentType: 'application/json', body: closing === undefined ? '{"status":"starting"}\n' : '{"status":"stopping"}\n' }
    const failing: Record<string, string> = {}
    for (const { name, check } of readinessChecks) {
      const reason = check()
      if (reason !== undefined) failing[name] = reason
    }
    if (Object.keys(failing).length === 0) return { status: 200, contentType: 'application/json', body: '{"status":"ready"}\n' }
    return { status: 503, contentType: 'application/json', body: JSON.stringify({ status: 'degraded', failing }) + '\n' }
  })

  const entries: PluginEntry[] = [...builtinPlugins(config, options.omitBuiltins), ...(options.plugins ?? []).map(toEntry)]
  let closing: Promise<void> | undefined
  let closed = false

  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false
      // MQTT listeners stop first; HTTP ones answer (/ready 503) until the rest has stopped
      const mqttClosed = Promise.all(listeners.filter((l) => !httpListeners.includes(l)).map((l) => l.close()))
      await host.closeAll(config.pluginTimeoutMs)
      await adapter?.close()
      gate.destroyAll()
      for (const stream of attached) stream.destroy()
      await mqttClosed
      await Promise.all(httpListeners.map((l) => l.close()))
      closed = true
      log.info({ brokerId: id }, 'broker closed')
    })()
    return closing
  }

  const onConnection: ConnectionHandler = (stream, meta, req) => { running().handle(stream, meta, req) }
  try {
    await host.registerAll(entries, apiFor, config.pluginTimeoutMs)
    // HTTP first (the routes are in after the plugins registered): while a large store loads,
    // /health answers 200 and /ready 503, so a liveness probe does not kill a broker that is starting.
    const httpConfigs = config.listeners.filter((l) => l.type === 'http')
    httpListeners = await startListeners(httpConfigs, gate, routes, onConnection, config.limits)
    listeners = httpListeners
    const ctx = { brokerId: id, log }
    const store = await buildPersistence(persistenceFactory, persistenceOptions, persistenceDecorators, ctx)
    adapter = await AedesAdapter.create({
      config: { ...config, id },
      hooks,
      events,
      log,
      persistence: store.persistence,
      durable: store.durable,
      storeUnavailable: store.unavailable,
      emitter: emitterFactory === undefined ? undefined : await emitterFactory(ctx),
      connectionFailed: (listener) => { gate.countFailure(listener, 'mqtt') },
    })
    // Alone on its store (only redis is shared): every will there is from this broker's previous run.
    if (config.sessions.store !== 'redis') await adapter.publishLeftoverWills()
    for (const handler of startHandlers) await handler.run()
    const mqtt = await startListeners(config.listeners.filter((l) => l.type !== 'http'), gate, routes, onConnection, config.limits)
    listeners = inConfigOrder(config.listeners, httpConfigs, httpListeners, mqtt)
  } catch (err) {
    await close().catch((closeErr: unknown) => log.error({ err: closeErr }, 'cleanup after failed start failed'))
    throw err
  }
  ready = true
  for (const l of listeners) log.info({ listener: l.address.name, url: l.address.url }, 'listening')

  const broker: Broker = {
    id,
    config,
    log,
    metrics,
    addresses: () => closed ? [] : listeners.map((l) => ({ ...l.address })),
    publish: async (message) => { await open().publish(message) },
    subscribe: async (filter, handler) => await open().subscribe(filter, handler),
    on (event, listener) { events.on(event, listener); return this },
    off (event, listener) { events.off(event, listener); return this },
    attach: (stream, name = 'stream') => {
      const client = open().handle(stream, { listener: name, remoteAddress: undefined })
      attached.add(stream)
      stream.once('close', () => { attached.delete(stream) })
      return client
    },
    stats,
    close,
  }
  return broker
}

// aedes-persistence is CommonJS whose typings declare an ESM default export.
const memoryPersistence = aedesPersistence as unknown as () => object

/** aedes-persistence's in-memory store class, to recognise it whoever built it. */
let memoryStorePrototype: object | undefined

/**
 * aedes-persistence 11's factories (the memory one, aedes-persistence-redis,
 * …) all return the same callback adapter, `CallBackPersistence`, around the
 * store itself (`asyncPersistence`): compare the store inside, or every one of
 * them looks like the memory store (redis went undeclared as not durable,
 * and PUBACK did not wait for it).
 */
function implementationOf (store: object): object {
  const inner = (store as { asyncPersistence?: unknown }).asyncPersistence
  return typeof inner === 'object' && inner !== null ? inner : store
}

function isMemoryStore (store: object): boolean {
  memoryStorePrototype ??= Object.getPrototypeOf(implementationOf(memoryPersistence())) as object
  return Object.getPrototypeOf(implementationOf(store)) === memoryStorePrototype
}

/**
 * The chosen store (aedes's in-memory one if no plugin chose), wrapped by every decorator in order,
 * and whether it survives a crash: as its provider says, else unless it is the in-memory store.
 */
async function buildPersistence (factory: PersistenceFactory | undefined, options: PersistenceOptions, decorators: readonly PersistenceDecorator[], ctx: { brokerId: string, log: Logger }): Promise<{ persistence: object | undefined, durable: boolean, unavailable?: () => string | undefined }> {
  if (factory === undefined && decorators.length === 0) return { persistence: undefined, durable: false }
  let store = factory === undefined ? memoryPersistence() : await factory(ctx)
  const durable = factory !== undefined && (options.durable ?? !isMemoryStore(store))
  for (const decorate of decorators) store = decorate(store, ctx)
  return { persistence: store, durable, ...(factory !== undefined && options.unavailable !== undefined ? { unavailable: options.unavailable } : {}) }
}

function toEntry (spec: PluginSpec): PluginEntry {
  return Array.isArray(spec) ? { plugin: spec[0] as Plugin<never>, options: spec[1] } : { plugin: spec as Plugin<never>, options: undefined }
}

/** The running listeners in the order of `all`, from those started for `first` and those started for the rest, each in its own order. */
function inConfigOrder (all: readonly ListenerConfig[], first: readonly ListenerConfig[], firstRunning: readonly RunningListener[], restRunning: readonly RunningListener[]): RunningListener[] {
  let a = 0
  let b = 0
  return all.map((config) => first.includes(config) ? firstRunning[a++] as RunningListener : restRunning[b++] as RunningListener)
}
