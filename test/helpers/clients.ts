import { connect as netConnect, type Socket } from 'node:net'
import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { onTestFinished } from 'vitest'

/** A connected MQTT.js client, ended when the test finishes. */
export async function connectClient (url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options })
  onTestFinished(() => client.endAsync(true))
  return client
}

export interface Received {
  topic: string
  payload: Buffer
  packet: IPublishPacket
}

/** Resolves with the next message the client receives (optionally on a topic). */
export function nextMessage (client: MqttClient, topic?: string): Promise<Received> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: IPublishPacket): void => {
      if (topic !== undefined && t !== topic) return
      client.off('message', onMessage)
      resolve({ topic: t, payload, packet })
    }
    client.on('message', onMessage)
  })
}

/** Resolves with the next `count` messages. */
export function collectMessages (client: MqttClient, count: number): Promise<Received[]> {
  return new Promise((resolve) => {
    const got: Received[] = []
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
      got.push({ topic, payload, packet })
      if (got.length === count) {
        client.off('message', onMessage)
        resolve(got)
      }
    }
    client.on('message', onMessage)
  })
}

/**
 * A raw MQTT client over `net` speaking mqtt-packet: for malformed input and
 * for flows MQTT.js hides (withheld acks, exact packet order).
 */
export class RawClient {
  readonly socket: Socket
  readonly packets: Packet[] = []
  #waiters: Array<{ match: (p: Packet) => boolean, resolve: (p: Packet) => void }> = []
  #closed: Promise<void>

  private constructor (socket: Socket) {
    this.socket = socket
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (packet: Packet) => {
      const i = this.#waiters.findIndex((w) => w.match(packet))
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1)
        w?.resolve(packet)
      } else {
        this.packets.push(packet)
      }
    })
    socket.on('data', (chunk) => parser.parse(chunk))
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  static async open (url: string): Promise<RawClient> {
    const { hostname, port } = new URL(url)
    const socket = netConnect({ host: hostname, port: Number(port), noDelay: true })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    socket.on('error', () => {})
    const client = new RawClient(socket)
    onTestFinished(() => { socket.destroy() })
    return client
  }

  send (packet: Packet | Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as Packet))
  }

  writeRaw (bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Next packet with this cmd (already received ones first). */
  next<T extends Packet = Packet> (cmd: Packet['cmd'], match: (p: T) => boolean = () => true): Promise<T> {
    const test = (p: Packet): boolean => p.cmd === cmd && match(p as T)
    const i = this.packets.findIndex(test)
    if (i >= 0) return Promise.resolve(this.packets.splice(i, 1)[0] as T)
    return new Promise((resolve) => this.#waiters.push({ match: test, resolve: resolve as (p: Packet) => void }))
  }

  /** Resolves when the broker closes the connection. */
  closed (): Promise<void> {
    return this.#closed
  }

  async connect (options: Record<string, unknown> = {}): Promise<Packet & { cmd: 'connack', returnCode: number, sessionPresent: boolean }> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'raw-' + Math.random().toString(16).slice(2), keepalive: 60, ...options })
    return this.next('connack') as never
  }
}
