import type { Logger } from 'pino'
import type { BrokerConfig } from '../config/schema.js'
import type { Hooks, OutboundPublish } from './hooks.js'
import type { BrokerEvents } from './events.js'
import type { ClientInfo, Message } from './message.js'
import type { MetricsRegistry } from '../sys/metrics.js'
import type { HttpRoute } from '../listeners/http.js'
import type { TransportStats } from '../listeners/connection-gate.js'

/**
 * An aedes-persistence 11 compatible store (async interface). Kept opaque here:
 * the adapter hands it to aedes unchanged, plugins build it.
 */
export type AedesPersistence = object

/**
 * An mqemitter-compatible emitter (mqemitter, mqemitter-redis).
 */
export type AedesEmitter = object

/** Builds the store once the broker knows its id and logger. */
export type PersistenceFactory = (ctx: { brokerId: string, log: Logger }) => AedesPersistence | Promise<AedesPersistence>

/** What a store provider declares about its store (`BrokerApi.usePersistence`). */
export interface PersistenceOptions {
  /**
   * The store survives a crash of the broker process (a file, a database
   * server). Then the broker sends PUBACK for a QoS 1 publish only once the
   * message is in the store, as it does PUBREC for QoS 2. Default: true,
   * except for aedes-persistence's in-memory store; say false for any other
   * store kept in the broker's memory, where holding PUBACKs back costs
   * latency and protects nothing.
   */
  durable?: boolean
  /**
   * Why the store cannot serve a new connection now (its server is
   * unreachable), or undefined. While it says so, a CONNECT is answered with
   * CONNACK 0x03, server unavailable, before any hook runs: aedes would wait
   * on the store and then close the connection without a CONNACK, logging
   * nothing. Keep it a field read. Not for a store that can still read (a
   * full disk): its clients can connect.
   */
  unavailable?: () => string | undefined
}

/** Wraps a store; returns the store aedes will use. */
export type PersistenceDecorator = (store: AedesPersistence, ctx: { brokerId: string, log: Logger }) => AedesPersistence

/** Builds the emitter once the broker knows its id and logger. */
export type EmitterFactory = (ctx: { brokerId: string, log: Logger }) => AedesEmitter | Promise<AedesEmitter>

/**
 * What a plugin sees of the broker. It never sees aedes: everything goes
 * through named hooks, typed events and these calls.
 */
export interface BrokerApi {
  /** Broker id, unique per node (aedes id). */
  readonly id: string
  /** Child logger bound to `{ plugin: name }`. */
  readonly log: Logger
  /** The whole validated, frozen broker config. */
  readonly config: Readonly<BrokerConfig>
  /** Ordered hook chains shared by all plugins. */
  readonly hooks: Hooks
  /** Typed broker events: observe, never change the flow. */
  readonly events: BrokerEvents
  /** Counters, gauges and histograms behind $SYS and /metrics. */
  readonly metrics: MetricsRegistry
  /** Publish a message as the broker itself (no client). Resolves once stored and routed. */
  publish(message: Message): Promise<void>
  /**
   * Subscribe the broker itself to a filter. The handler runs for every matching
   * message; resolve to release the emitter slot. Returns the unsubscribe call.
   */
  subscribe(filter: string, handler: (message: Message) => void | Promise<void>): Promise<() => Promise<void>>
  /**
   * Deliver a message that waited (behind an inflight window, in a queue) to
   * one connection now, the way aedes delivers a live message to a subscriber:
   * the `authorizeForward` chain runs for it before this returns, then the QoS
   * flow — a fresh packet id, DUP 0, the session store's `outgoingUpdate` for
   * a persistent session, the write. `packet` is one an `authorizeForward`
   * hook saw: it keeps its identity (`brokerId`, `brokerCounter`), so the
   * store finds its queue entry, and aedes's per-client duplicate check (which
   * refuses anything older than what the client already got) is skipped for
   * it. Returns false if that connection is gone. Only after start.
   */
  deliverTo(client: ClientInfo, packet: OutboundPublish): boolean
  /**
   * The connection behind a client object that aedes passed to a store call
   * (`outgoingStream`, `outgoingClearMessageId`, …), for persistence
   * decorators; undefined for anything else (e.g. a bare `{ id }`).
   */
  clientOf(storeClient: object): ClientInfo | undefined
  /** Live figures the core keeps (connections, bytes). Cheap: computed on call. */
  stats(): BrokerStats
  /** Serve `path` on every `http` listener (e.g. `/metrics`). */
  addHttpRoute(path: string, route: HttpRoute): void
  /**
   * A condition of `/ready`: `check` returns why the broker should not get
   * traffic now (e.g. its store cannot write), or undefined when all is well.
   * Called on every `/ready` request: keep it a field read.
   */
  addReadinessCheck(name: string, check: () => string | undefined): void
  /** Replace the session store. Only valid during `register`. */
  usePersistence(factory: PersistenceFactory, options?: PersistenceOptions): void
  /**
   * Wrap the session store, whichever plugin provides it (e.g. to keep
   * messages held back by an inflight window, or to order a backlog).
   * Decorators apply in registration order. Only valid during `register`.
   */
  decoratePersistence(decorator: PersistenceDecorator): void
  /** Replace the message emitter (clustering). Only valid during `register`. */
  useEmitter(factory: EmitterFactory): void
  /**
   * Run once the store and emitter are up, before listeners accept connections
   * (in registration order). `publish` and `subscribe` work from here on.
   */
  onStart(handler: () => void | Promise<void>): void
  /** Run on broker close, in reverse registration order, after listeners stop. */
  onClose(handler: () => void | Promise<void>): void
}

/** Figures the core keeps; see `BrokerApi.stats`. */
export interface BrokerStats extends TransportStats {
  /** Clients that completed CONNECT. */
  connectedClients: number
  /** Milliseconds since the broker started. */
  uptimeMs: number
}

/**
 * The one plugin shape. `register` runs in config order, bounded by
 * `pluginTimeoutMs`; `dependencies` must be registered earlier.
 */
export interface Plugin<Options = unknown> {
  readonly name: string
  readonly dependencies?: readonly string[]
  register(broker: BrokerApi, options: Options): void | Promise<void>
}

/** Identity helper that gives a plugin literal its types. */
export function definePlugin<Options = unknown> (plugin: Plugin<Options>): Plugin<Options> {
  return plugin
}
