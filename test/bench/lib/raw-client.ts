/**
 * A minimal MQTT 3.1.1 client over `net` for load generation: one socket,
 * TCP_NODELAY on, pipelined QoS 1/2 publishes resolved by their acks, and a
 * subscriber side that acknowledges every delivery at once, or never (a
 * stalled consumer, which MQTT.js cannot be on 3.1.1). MQTT.js costs more CPU
 * per message than the brokers under test, so it would measure itself.
 */
import net from 'node:net'
import { generate, parser as createParser } from 'mqtt-packet'
import type { IPublishPacket, Packet, QoS } from 'mqtt-packet'
import { withTimeout } from './time.js'
import { DISCONNECT, puback, pubcomp, pubrec, pubrel, type PublishTemplate } from './packets.js'

export interface ConnectOptions {
  port: number
  host?: string
  clientId: string
  /** Clean session flag [MQTT-3.1.2-4]; default true. */
  clean?: boolean
  /** Seconds; default 0 (no keepalive, so idle benchmark clients never ping). */
  keepalive?: number
  /** Bound on TCP connect + CONNACK; default 10 s. */
  timeoutMs?: number
  /** Installed before CONNECT is sent, so a session's queued messages arriving with the CONNACK are seen. */
  onMessage?: MessageHandler
  /** Acknowledge deliveries (PUBACK / PUBREC / PUBCOMP); default true. False: a consumer that reads but never acks. */
  autoAck?: boolean
}

interface Waiter {
  resolve: (packet: Packet) => void
  reject: (err: Error) => void
}

/** Called for every PUBLISH received, after its ack (PUBACK / PUBREC) is written. */
export type MessageHandler = (packet: IPublishPacket) => void

export class RawClient {
  readonly clientId: string
  onMessage: MessageHandler | null = null
  sessionPresent = false
  autoAck = true
  private readonly socket: net.Socket
  /** Outgoing QoS 1/2 publishes waiting for PUBACK / PUBCOMP, by packet id. */
  private readonly outgoing = new Map<number, Waiter>()
  /** CONNACK (key -1) and SUBACKs (by packet id). */
  private readonly control = new Map<number, Waiter>()
  private lastId = 0
  private drain: Promise<void> | null = null
  private failure: Error | null = null
  private readonly closed: Promise<void>

  private constructor (socket: net.Socket, clientId: string) {
    this.socket = socket
    this.clientId = clientId
    const parser = createParser({ protocolVersion: 4 })
    parser.on('packet', (packet: Packet) => { this.handle(packet) })
    parser.on('error', (err: Error) => { this.fail(err); socket.destroy() })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
    socket.on('error', (err) => { this.fail(err) })
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.fail(new Error(`${clientId}: connection closed`))
      resolve()
    }))
  }

  /** Opens a socket, sends CONNECT and resolves on an accepting CONNACK. */
  static async connect (opts: ConnectOptions): Promise<RawClient> {
    const socket = net.connect({ port: opts.port, host: opts.host ?? '127.0.0.1' })
    socket.setNoDelay(true)
    const client = new RawClient(socket, opts.clientId)
    client.onMessage = opts.onMessage ?? null
    client.autoAck = opts.autoAck ?? true
    const connack = client.expect(-1)
    client.write(generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: opts.clientId,
      clean: opts.clean ?? true,
      keepalive: opts.keepalive ?? 0,
    }))
    const timeoutMs = opts.timeoutMs ?? 10_000
    try {
      const packet = await withTimeout(connack, timeoutMs, () => `${opts.clientId}: no CONNACK within ${timeoutMs} ms`)
      if (packet.cmd !== 'connack' || (packet.returnCode ?? 0) !== 0) {
        throw new Error(`${opts.clientId}: connection refused (${packet.cmd === 'connack' ? String(packet.returnCode) : packet.cmd})`)
      }
      client.sessionPresent = packet.sessionPresent
      return client
    } catch (err) {
      socket.destroy()
      throw err
    }
  }

  /** Subscribes to one filter; resolves with the granted QoS (0x80 = refused). */
  async subscribe (topic: string, qos: QoS): Promise<number> {
    const messageId = this.allocateId()
    const suback = this.expect(messageId)
    this.write(generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }))
    const packet = await suback
    const granted = packet.cmd === 'suback' ? packet.granted[0] : undefined
    if (typeof granted !== 'number' || granted === 0x80) throw new Error(`${this.clientId}: subscription to ${topic} refused`)
    return granted
  }

  /**
   * Sends one message built from `template`. QoS 0 resolves once the socket
   * accepts more data; QoS 1 on PUBACK; QoS 2 on PUBCOMP.
   */
  publish (template: PublishTemplate, stamp: number): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (template.qos === 0) {
      this.write(template.build(0, stamp))
      return this.drain ?? Promise.resolve()
    }
    const messageId = this.allocateId()
    const done = new Promise<void>((resolve, reject) => {
      this.outgoing.set(messageId, { resolve: () => { resolve() }, reject })
    })
    this.write(template.build(messageId, stamp))
    return done
  }

  /** This end's TCP port (to find the connection in /proc/net/tcp). */
  get localPort (): number {
    return this.socket.localPort ?? -1
  }

  /** Number of QoS 1/2 publishes not yet acknowledged. */
  get inflight (): number {
    return this.outgoing.size
  }

  /** Sends DISCONNECT and waits (bounded) for the socket to close. */
  async disconnect (timeoutMs = 2_000): Promise<void> {
    if (!this.socket.destroyed) this.socket.end(DISCONNECT)
    await withTimeout(this.closed, timeoutMs, () => 'no close').catch(() => undefined)
    this.socket.destroy()
  }

  /**
   * Stops reading from the socket (a hung consumer): the kernel buffers fill,
   * then the broker's writes to this client stop being accepted.
   */
  stopReading (): void {
    this.socket.pause()
  }

  /** Drops the connection without DISCONNECT (the broker sees a network failure). */
  destroy (): void {
    this.socket.destroy()
  }

  private handle (packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        // Ack before handing over, as a real consumer with auto-ack would.
        if (this.autoAck && packet.qos === 1 && packet.messageId !== undefined) this.write(puback(packet.messageId))
        if (this.autoAck && packet.qos === 2 && packet.messageId !== undefined) this.write(pubrec(packet.messageId))
        this.onMessage?.(packet)
        break
      case 'pubrel':
        if (this.autoAck && packet.messageId !== undefined) this.write(pubcomp(packet.messageId))
        break
      case 'pubrec':
        // QoS 2 sender: PUBREC → PUBREL, completion comes with PUBCOMP [MQTT-4.3.3].
        if (packet.messageId !== undefined) this.write(pubrel(packet.messageId))
        break
      case 'puback':
      case 'pubcomp':
        this.settle(this.outgoing, packet.messageId, packet)
        break
      case 'connack':
        this.settle(this.control, -1, packet)
        break
      case 'suback':
        this.settle(this.control, packet.messageId, packet)
        break
      default:
        break
    }
  }

  private settle (map: Map<number, Waiter>, id: number | undefined, packet: Packet): void {
    if (id === undefined) return
    const waiter = map.get(id)
    if (waiter === undefined) return
    map.delete(id)
    waiter.resolve(packet)
  }

  private expect (id: number): Promise<Packet> {
    if (this.failure !== null) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => { this.control.set(id, { resolve, reject }) })
  }

  private allocateId (): number {
    // Packet ids are 1..65535 and must not be reused while in flight [MQTT-2.3.1-4].
    for (let tries = 0; tries < 65_535; tries++) {
      this.lastId = this.lastId >= 65_535 ? 1 : this.lastId + 1
      if (!this.outgoing.has(this.lastId) && !this.control.has(this.lastId)) return this.lastId
    }
    throw new Error(`${this.clientId}: all 65,535 packet ids are in flight`)
  }

  private write (buf: Buffer): void {
    if (!this.socket.write(buf) && this.drain === null) {
      this.drain = new Promise<void>((resolve) => {
        const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); this.drain = null; resolve() }
        this.socket.on('drain', done)
        this.socket.on('close', done)
      })
    }
  }

  private fail (err: Error): void {
    this.failure ??= err
    for (const map of [this.outgoing, this.control]) {
      for (const waiter of map.values()) waiter.reject(this.failure)
      map.clear()
    }
  }
}
