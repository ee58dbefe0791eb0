import type { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { Aedes, type AedesPublishPacket, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes'
import type { Logger } from 'pino'
import type { BrokerConfig } from '../config/schema.js'
import { ClientDirectory, type ConnectionMeta } from './client-info.js'
import type { BrokerEvents } from './events.js'
import type { HookRegistry } from './hooks.js'
import type { ClientInfo, Message, QoS } from './message.js'
import { installHookSlots } from './hook-slots.js'

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
  persistence: object | undefined
  emitter: object | undefined
}

type DeliverFn = (packet: AedesPublishPacket, done: () => void) => void

export class AedesAdapter {
  readonly #aedes: Aedes
  readonly #log: Logger
  readonly #events: BrokerEvents
  readonly clients = new ClientDirectory()

  private constructor (aedes: Aedes, options: AdapterOptions) {
    this.#aedes = aedes
    this.#log = options.log
    this.#events = options.events
  }

  static async create (options: AdapterOptions): Promise<AedesAdapter> {
    const { config } = options
    const aedes = new Aedes({
      id: config.id,
      persistence: options.persistence,
      mq: options.emitter,
      connectTimeout: config.limits.connectTimeoutMs,
      drainTimeout: config.limits.drainTimeoutMs,
      keepaliveLimit: config.limits.keepaliveLimit,
      maxTopicLevels: config.limits.maxTopicLevels,
      // aedes checks this for MQTT 3.1 only, where 23 is the spec's limit; 3.1.1 is checked in hook-slots.
      maxClientsIdLength: 23,
    })
    const adapter = new AedesAdapter(aedes, options)
    installHookSlots(aedes, { ...options, clients: adapter.clients })
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
    const client = this.#aedes.handle(stream, request)
    return this.clients.attach(client, meta)
  }

  /** Publish as the broker: no client, so no authorizePublish. */
  publish (message: Message): Promise<void> {
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
    const log = this.#log
    const deliver: DeliverFn = (packet, done) => {
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
    await new Promise<void>((resolve) => this.#aedes.close(() => resolve()))
    const persistence = (this.#aedes as unknown as { persistence?: { destroy?: () => Promise<void> | void } }).persistence
    await persistence?.destroy?.()
  }

  #forwardEvents (): void {
    const aedes = this.#aedes
    const events = this.#events
    const clients = this.clients
    const log = this.#log
    const info = (client: Client): ClientInfo => clients.of(client)

    aedes.on('clientReady', (client) => {
      const c = info(client)
      log.info({ clientId: client.id, clean: client.clean, listener: c.listener, remoteAddress: c.remoteAddress, username: c.username }, 'client connected')
      events.emit('clientReady', c)
    })
    aedes.on('clientDisconnect', (client) => {
      log.info({ clientId: client.id }, 'client disconnected')
      events.emit('clientDisconnect', info(client))
    })
    aedes.on('clientError', (client, err) => {
      log.debug({ clientId: client.id, err: err.message }, 'client error')
      events.emit('clientError', info(client), err)
    })
    aedes.on('connectionError', (client, err) => {
      log.debug({ err: err.message }, 'connection error before CONNECT completed')
      events.emit('clientError', undefined, err)
    })
    aedes.on('keepaliveTimeout', (client) => {
      log.info({ clientId: client.id }, 'keepalive timeout')
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
