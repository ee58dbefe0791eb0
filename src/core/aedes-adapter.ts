import { randomUUID } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { Aedes, type AedesPublishPacket, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes'
import aedesPersistence from 'aedes-persistence'
import type { Logger } from 'pino'
import type { BrokerConfig } from '../config/schema.js'
import { ClientDirectory, type ConnectionMeta } from './client-info.js'
import type { BrokerEvents } from './events.js'
import type { HookRegistry, OutboundPublish } from './hooks.js'
import { type ClientInfo, type Message, messageError, type QoS } from './message.js'
import { decorateCoreStore } from './core-store.js'
import { DurableAcks } from './durable-acks.js'
import { installHookSlots } from './hook-slots.js'
import { InboundQos2 } from './spec-qos2-inbound.js'
import { Resends } from './spec-resend.js'
import { keepNewestRegistration } from './spec-takeover.js'
import { RetainedDeliveries } from './spec-retained.js'
import { StoredSubscriptions } from './spec-stored-subscriptions.js'
import { StalledReaders, type SlowReader } from './slow-consumers.js'
import { deliverOverlapsAtTheirQos, type Subscriptions } from './spec-overlap.js'
import { deliverOvertakenMessages, type DedupingClient } from './spec-overtaken.js'
import { filterError, quoted } from './topic.js'
import { BrokerError } from '../errors.js'
import { beforeDeadline, LATE } from './deadline.js'
import { guardWire, type WireGuardOptions } from './spec-wire.js'
import { LineThrottle, reasonKind } from './line-throttle.js'
import { withDistinctPubrels } from './memory-store-pubrels.js'

/**
 * The only module that talks to aedes directly (with hook-slots.ts, which
 * fills aedes's single-function hook slots). Everything above it sees midge
 * types; callbacks stop here.
 */
export interface AdapterOptions {
  config: Readonly<BrokerConfig>
  hooks: HookRegistry
  events: BrokerEvents
  log: Logger
  /** The session store; aedes's in-memory one if undefined. */
  persistence: object | undefined
  /**
   * The store survives a crash of this process (a file, a server): QoS 1
   * PUBACKs then wait until the message is in it (durable-acks.ts).
   */
  durable: boolean
  /** See `PersistenceOptions.unavailable`. */
  storeUnavailable?: (() => string | undefined) | undefined
  emitter: object | undefined
  /** Told of each connection closed before its CONNECT completed (to count it). */
  connectionFailed?: (listener: string) => void
}

// aedes-persistence is CommonJS whose typings declare an ESM default export.
const memoryPersistence = aedesPersistence as unknown as () => object

type DeliverFn = (packet: AedesPublishPacket, done: () => void) => void

/**
 * What the adapter uses of an aedes 1.2 Client beyond its typings: its delivery functions
 * (lib/client.js), its subscriptions (filter → entry), and the high-water marks of its
 * duplicate check (`duplicates`: brokerId → the highest brokerCounter delivered).
 */
type DeliveringClient = Client & {
  deliverQoS(packet: AedesPublishPacket, done: () => void): void
  deliver0(packet: AedesPublishPacket, done: () => void): void
  subscriptions: Subscriptions
  duplicates: Record<string, number | undefined>
}

/** A will as the store keeps it: marked with its client and the broker it connected to. */
type StoredWill = PublishPacket & { clientId: string, brokerId: string }

/**
 * What the will handling uses of aedes 1.2 beyond its typings: the registered
 * clients with their will (`_disconnected`: the client sent DISCONNECT), the
 * store's will calls, and `publish` with the publishing client as its middle
 * argument, as lib/client.js calls it for wills (the typings know only the
 * broker's two-argument form).
 */
type AedesInternals = Omit<Aedes, 'publish'> & {
  clients: Record<string, Client & { will?: PublishPacket | null, _disconnected?: boolean }>
  persistence: {
    streamWill(brokers: Record<string, number>): AsyncIterable<StoredWill>
    delWill(client: { id: string, brokerId: string }): Promise<unknown>
  }
  publish(packet: PublishPacket, client: Client | null, done: (err?: Error | null) => void): void
}

function noop (): void {}

export class AedesAdapter {
  readonly #aedes: Aedes
  readonly #log: Logger
  readonly #events: BrokerEvents
  /** Shared by every connection's wire guard. */
  readonly #wire: WireGuardOptions
  readonly clients = new ClientDirectory()
  readonly #acks: DurableAcks | undefined
  /** Bounds each closing step that waits on the store (`pluginTimeoutMs`). */
  readonly #closeTimeoutMs: number
  readonly #stalls: StalledReaders
  readonly #connectionFailed: (listener: string) => void

  private constructor (aedes: Aedes, options: AdapterOptions, acks: DurableAcks | undefined, stalls: StalledReaders) {
    this.#aedes = aedes
    this.#log = options.log
    this.#events = options.events
    this.#wire = {
      maxQos: options.config.mqtt.maxQos,
      maxTopicLevels: options.config.limits.maxTopicLevels,
      onViolation: (reason, listener) => { options.log.debug({ reason, listener }, 'protocol violation') },
    }
    this.#acks = acks
    this.#closeTimeoutMs = options.config.pluginTimeoutMs
    this.#stalls = stalls
    this.#connectionFailed = options.connectionFailed ?? (() => {})
  }

  static async create (options: AdapterOptions): Promise<AedesAdapter> {
    const { config } = options
    const id = config.id ?? randomUUID()
    const acks = options.durable ? new DurableAcks() : undefined
    const retained = new RetainedDeliveries(id)
    const resends = new Resends()
    const stored = new StoredSubscriptions()
    const persistence = decorateCoreStore(options.persistence ?? withDistinctPubrels(memoryPersistence()), { acks, retained, resends, qos2: new InboundQos2(), stored })
    const aedes = new Aedes({
      id,
      persistence,
      mq: options.emitter,
      connectTimeout: config.limits.connectTimeoutMs,
      drainTimeout: config.limits.drainTimeoutMs,
      keepaliveLimit: config.limits.keepaliveLimit,
      maxTopicLevels: config.limits.maxTopicLevels,
      // aedes checks this for MQTT 3.1 only, where 23 is the spec's limit; 3.1.1 is checked in hook-slots.
      maxClientsIdLength: 23,
    })
    const stalls = new StalledReaders(config.limits.slowConsumerMs)
    const adapter = new AedesAdapter(aedes, options, acks, stalls)
    installHookSlots(aedes, { ...options, clients: adapter.clients, acks, retained, resends, stored, stalls })
    keepNewestRegistration(aedes)
    adapter.#forwardEvents()
    await aedes.listen()
    return adapter
  }

  get id (): string {
    return this.#aedes.id
  }

  get connectedClients (): number {
    return this.#aedes.connectedClients
  }

  /** Hand a connection to aedes. `request` is the HTTP upgrade for WebSocket connections. */
  handle (stream: Duplex, meta: ConnectionMeta, request?: IncomingMessage): ClientInfo {
    guardWire(stream, this.#wire, meta.listener)
    this.#acks?.attach(stream)
    const client = this.#aedes.handle(stream, request)
    this.#stalls.watch(client as unknown as SlowReader)
    // (inside the overlap rule: a QoS 0 copy it leaves to a QoS 1/2 subscription is no delivery)
    deliverOvertakenMessages(client as unknown as DedupingClient)
    deliverOverlapsAtTheirQos(client as DeliveringClient)
    return this.clients.attach(client, meta)
  }

  /** See `BrokerApi.deliverTo`. */
  deliverTo (info: ClientInfo, packet: OutboundPublish): boolean {
    const client = this.clients.clientOf(info) as DeliveringClient | undefined
    if (client === undefined || client.closed) return false
    const live = { ...packet, messageId: undefined, dup: false } as unknown as AedesPublishPacket
    const brokerId = live.brokerId
    // aedes drops a delivery not above the highest brokerCounter the client got from that broker
    // (`dedupe`, lib/client.js), and a message that waited is older: lift the mark for this
    // synchronous call. 0 reads as "none"; assigning it, not deleting the key, keeps the object's
    // shape (a delete per hand-over made the check ~1 µs of every backlog delivery).
    if (typeof brokerId !== 'string') {
      client.deliverQoS(live, noop)
      return true
    }
    const marks = client.duplicates
    const mark = marks[brokerId] ?? 0
    marks[brokerId] = 0
    try {
      client.deliverQoS(live, noop)
    } finally {
      marks[brokerId] = mark
    }
    return true
  }

  /**
   * Publishes the wills a previous run of this broker left in the store: its
   * clients' connections ended with the crash, without DISCONNECT, so their
   * wills are due [MQTT-3.1.2-8]. aedes publishes a dead broker's wills only
   * from its sweep, 4 heartbeat intervals (4 min) after start, and a client
   * that reconnected before then replaced its old will unpublished. Call it
   * before any client can connect, and only where no other live broker shares
   * the store (their wills are not due; aedes's sweep handles a cluster).
   */
  async publishLeftoverWills (): Promise<number> {
    let published = 0
    // Every will: a broker id set in config is the same across runs, so this run's id says nothing.
    for await (const will of this.#internals.persistence.streamWill({})) {
      await this.#publishWill(will, null, will.clientId, will.brokerId)
      published++
    }
    if (published > 0) this.#log.info({ wills: published }, 'published the wills of clients connected when the broker last stopped without closing them')
    return published
  }

  /** Publish a due will (as `client`, null for the broker), then remove it from the store. */
  async #publishWill (will: PublishPacket, client: Client | null, clientId: string, brokerId: string): Promise<void> {
    const aedes = this.#internals
    await new Promise<void>((resolve, reject) => { aedes.publish(will, client, (err?: Error | null) => { err ? reject(err) : resolve() }) })
    await aedes.persistence.delWill({ id: clientId, brokerId })
  }

  /** aedes 1.2 beyond its typings: see `AedesInternals`. */
  get #internals (): AedesInternals {
    return this.#aedes as unknown as AedesInternals
  }

  /** See `BrokerApi.clientOf`. */
  clientOf (storeClient: object): ClientInfo | undefined {
    return this.clients.known(storeClient)
  }

  /** Publish as the broker: no client, so no authorizePublish. */
  publish (message: Message): Promise<void> {
    const invalid = messageError(message)
    if (invalid !== undefined) return Promise.reject(new BrokerError('ERR_PUBLISH_INVALID', `publish to ${quoted(message.topic)}: ${invalid}`))
    const packet = {
      cmd: 'publish' as const,
      topic: message.topic,
      payload: typeof message.payload === 'string' ? Buffer.from(message.payload) : message.payload,
      qos: message.qos ?? 0,
      retain: message.retain ?? false,
      dup: false,
      ...(message.properties !== undefined ? { properties: message.properties } : {}),
    }
    return new Promise((resolve, reject) => {
      this.#aedes.publish(packet as PublishPacket, (err?: Error | null) => { err ? reject(err) : resolve() })
    })
  }

  /** Subscribe the broker itself; the returned function unsubscribes. */
  async subscribe (filter: string, handler: (message: Message) => void | Promise<void>): Promise<() => Promise<void>> {
    const invalid = typeof filter !== 'string' ? 'not a string' : filterError(filter)
    if (invalid !== undefined) throw new BrokerError('ERR_FILTER_INVALID', `subscribe to ${quoted(filter)}: ${invalid}`)
    const log = this.#log
    // [MQTT-4.7.2-1] as for clients: a filter starting with a wildcard matches no `$` topic (aedes's emitter does)
    const leadingWildcard = filter.startsWith('#') || filter.startsWith('+')
    const deliver: DeliverFn = (packet, done) => {
      if (leadingWildcard && packet.topic.startsWith('$')) {
        done()
        return
      }
      let result: void | Promise<void>
      try {
        result = handler(packet as unknown as Message)
      } catch (err) {
        log.error({ err, filter }, 'internal subscriber failed')
        done()
        return
      }
      if (result instanceof Promise) {
        result.then(done, (err: unknown) => { log.error({ err, filter }, 'internal subscriber failed'); done() })
      } else {
        done()
      }
    }
    await new Promise<void>((resolve, reject) => {
      this.#aedes.subscribe(filter, deliver as never, ((err?: Error) => { err ? reject(err) : resolve() }) as never)
    })
    return () => new Promise<void>((resolve) => {
      this.#aedes.unsubscribe(filter, deliver as never, (() => resolve()) as never)
    })
  }

  /** Disconnect every client, stop the emitter, then close the store. */
  async close (): Promise<void> {
    const timeoutMs = this.#closeTimeoutMs
    if (await beforeDeadline(this.#publishDueWills(), timeoutMs) === LATE) this.#log.error({ timeoutMs }, 'the wills due at shutdown were not all published in time (is the store reachable?); closing anyway')
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()))
    const persistence = (this.#aedes as unknown as { persistence?: { destroy?: () => Promise<void> | void } }).persistence
    await persistence?.destroy?.()
  }

  /**
   * The broker closing ends every connection without DISCONNECT, so each
   * client's will is due [MQTT-3.1.2-8]. aedes publishes it while it closes
   * the client and deletes it from the store after, unawaited: by then the
   * store was closed, the will stayed in it, and the next start published it
   * again (`publishLeftoverWills`). So publish and delete them here, first.
   */
  async #publishDueWills (): Promise<void> {
    const aedes = this.#internals
    await Promise.all(Object.values(aedes.clients).map(async (client) => {
      const will = client.will
      if (will === undefined || will === null || client._disconnected === true) return
      client.will = null // else aedes's close publishes it once more
      try {
        const allowed = await new Promise<boolean>((resolve) => { aedes.authorizePublish(client, will, (err?: Error | null) => { resolve(err === undefined || err === null) }) })
        if (allowed) await this.#publishWill(will, client, client.id, aedes.id)
        else await aedes.persistence.delWill({ id: client.id, brokerId: aedes.id })
      } catch (err) {
        this.#log.error({ err, clientId: client.id }, 'could not publish a will at shutdown')
      }
    }))
  }

  #forwardEvents (): void {
    const aedes = this.#aedes
    const events = this.#events
    const clients = this.clients
    const log = this.#log
    const info = (client: Client): ClientInfo => clients.of(client)

    // aedes emits clientReady after the reconnect stream (emptyQueue) ends, which can be after the
    // connection closed and clientDisconnect went out: every listener would then count a client that
    // is gone for good. Such a late clientReady is not passed on.
    const disconnected = new WeakSet<Client>()
    /** Why a connection ended, for its disconnect line (aedes's event says nothing). */
    const endings = new WeakMap<Client, string>()
    const registry = aedes as unknown as { clients: Record<string, Client | undefined>, registerClient(client: Client): void }
    const register = registry.registerClient.bind(aedes)
    registry.registerClient = (client: Client) => {
      const older = registry.clients[client.id]
      // (not one already closing: a DISCONNECT and a quick reconnect are no takeover)
      if (older !== undefined && older !== client && older.closed !== true) {
        // [MQTT-3.1.4-2] aedes closes the older connection; an operator wants to see who replaced whom
        endings.set(older, 'taken over by a new connection with the same client id')
        const [now, before] = [info(client), info(older)]
        log.info({ clientId: client.id, listener: now.listener, remoteAddress: now.remoteAddress, previousRemoteAddress: before.remoteAddress }, 'client id taken over: closing the older connection')
      }
      register(client)
    }
    aedes.on('clientReady', (client) => {
      const c = info(client)
      if (disconnected.has(client)) {
        log.debug({ clientId: client.id }, 'connection closed before it was ready')
        return
      }
      log.info({ clientId: client.id, clean: client.clean, listener: c.listener, remoteAddress: c.remoteAddress, username: c.username, certificateCN: c.certificateCN }, 'client connected')
      events.emit('clientReady', c)
    })
    aedes.on('clientDisconnect', (client) => {
      disconnected.add(client)
      const c = info(client)
      const reason = endings.get(client) ?? ((client as { _disconnected?: boolean })._disconnected === true ? 'DISCONNECT' : 'connection closed')
      log.info({ clientId: client.id, listener: c.listener, remoteAddress: c.remoteAddress, reason }, 'client disconnected')
      events.emit('clientDisconnect', info(client))
    })
    aedes.on('clientError', (client, err) => {
      const c = info(client)
      if (!endings.has(client)) endings.set(client, `error: ${err.message}`)
      log.debug({ clientId: client.id, listener: c.listener, remoteAddress: c.remoteAddress, err: err.message }, 'client error')
      events.emit('clientError', info(client), err)
    })
    // A scanner or a misconfigured fleet fails here by the thousand: one line per listener and reason a minute.
    const failures = new LineThrottle(60_000)
    aedes.on('connectionError', (client, err) => {
      const c = info(client)
      this.#connectionFailed(c.listener)
      const sinceLastLine = failures.pass(`${c.listener}\u0000${reasonKind(err.message)}`)
      if (sinceLastLine !== undefined) log.info({ listener: c.listener, remoteAddress: c.remoteAddress, reason: err.message, sinceLastLine }, 'connection closed before CONNECT completed')
      events.emit('clientError', undefined, err)
    })
    aedes.on('keepaliveTimeout', (client) => {
      endings.set(client, 'keepalive timeout')
      const c = info(client)
      log.info({ clientId: client.id, listener: c.listener, remoteAddress: c.remoteAddress }, 'keepalive timeout')
    })
    aedes.on('publish', (packet, client) => {
      events.emit('publish', packet as unknown as Message, client === null ? undefined : info(client))
    })
    aedes.on('ack', (packet, client) => {
      events.emit('ack', packet?.cmd === 'publish' ? packet as unknown as Message : undefined, info(client))
    })
    aedes.on('subscribe', (subs: Subscription[], client) => {
      events.emit('subscribe', subs.map((s) => ({ topic: s.topic, qos: s.qos as QoS | 128 })), info(client))
    })
    aedes.on('unsubscribe', (topics, client) => {
      events.emit('unsubscribe', topics, info(client))
    })
    // aedes emits 'error' when the store fails on the publish path: report it, never swallow it.
    ;(aedes as unknown as EventEmitter).on('error', (err: Error) => {
      log.error({ err }, 'broker error')
      events.emit('error', err)
    })
  }
}

export type { ConnectPacket }
