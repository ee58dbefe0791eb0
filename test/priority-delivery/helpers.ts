import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { onTestFinished } from 'vitest'
import { createBroker, type Broker } from '../../src/broker.js'
import { validateConfig } from '../../src/config/load.js'
import type { BrokerConfig, BrokerConfigInput } from '../../src/config/schema.js'
import { prioritySchema, type PriorityConfigInput } from '../../src/config/sections/priority.js'
import { RawClient, type Received } from '../helpers/clients.js'

export interface PriorityBrokerOptions {
  priority?: PriorityConfigInput
  maxInflight?: number
  config?: BrokerConfigInput
  /** Close it yourself (restart tests); otherwise it closes when the test ends. */
  manualClose?: boolean
}

/**
 * A broker on port 0 with the `priority` section and `mqtt.maxInflight` set.
 * They are laid over the validated config (createBroker takes a frozen config
 * as validated), so this works whether or not the schema lists those keys yet.
 */
export async function startPriorityBroker (options: PriorityBrokerOptions = {}): Promise<Broker & { mqttUrl: string }> {
  const config = options.config ?? {}
  const base = validateConfig({
    logLevel: 'silent',
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    ...config,
    sessions: { store: 'memory', ...config.sessions },
  })
  const frozen = Object.freeze({
    ...base,
    priority: prioritySchema.parse(options.priority ?? {}),
    mqtt: Object.freeze({ ...base.mqtt, maxInflight: options.maxInflight ?? 20 }),
  }) as unknown as Readonly<BrokerConfig>
  const broker = await createBroker(frozen)
  if (options.manualClose !== true) onTestFinished(() => broker.close())
  const url = broker.addresses().find((a) => a.type === 'mqtt')?.url ?? ''
  return Object.assign(broker, { mqttUrl: url })
}

/** A temp directory removed when the test ends. */
export function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'midge-priority-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** One rule per priority: `prio/<n>/…` has priority n. */
export const PER_LEVEL_RULES = Array.from({ length: 10 }, (_, n) => ({ filter: `prio/${n}/#`, priority: n }))

/** Resolves once the broker has routed `count` publishes on topics `match` accepts (held ones included). */
export function routed (broker: Broker, count: number, match: (topic: string) => boolean = () => true): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const onPublish = (message: { topic: string }): void => {
      if (!match(message.topic)) return
      if (++seen === count) {
        broker.off('publish', onPublish)
        resolve()
      }
    }
    broker.on('publish', onPublish)
  })
}

/**
 * Connect an MQTT.js client and start collecting `count` messages before the
 * CONNACK is processed, so a backlog flushed right after it is not missed.
 */
export async function connectCollecting (url: string, count: number, options: IClientOptions = {}): Promise<{ client: MqttClient, messages: Promise<Received[]> }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options })
  onTestFinished(() => client.endAsync(true))
  const messages = new Promise<Received[]>((resolve) => {
    const got: Received[] = []
    client.on('message', (topic, payload, packet) => {
      got.push({ topic, payload, packet })
      if (got.length === count) resolve(got)
    })
  })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return { client, messages }
}

/** A raw 3.1.1 client that acknowledges only when told to. */
export class ManualAckClient {
  readonly raw: RawClient

  private constructor (raw: RawClient) {
    this.raw = raw
  }

  static async open (url: string, clientId: string, options: { clean?: boolean } = {}): Promise<ManualAckClient> {
    const raw = await RawClient.open(url)
    const connack = await raw.connect({ clientId, clean: options.clean ?? true })
    if (connack.returnCode !== 0) throw new Error(`CONNACK ${connack.returnCode}`)
    return new ManualAckClient(raw)
  }

  async subscribe (topic: string, qos: 0 | 1 | 2 = 1): Promise<void> {
    const messageId = 1 + Math.floor(Math.random() * 60_000)
    this.raw.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] })
    await this.raw.next('suback', (p) => (p as { messageId?: number }).messageId === messageId)
  }

  /** The next PUBLISH received. */
  next (): Promise<IPublishPacket> {
    return this.raw.next<IPublishPacket>('publish')
  }

  /** The next `n` PUBLISH packets, in order. */
  async take (n: number): Promise<IPublishPacket[]> {
    const out: IPublishPacket[] = []
    for (let i = 0; i < n; i++) out.push(await this.next())
    return out
  }

  /** PUBLISH packets received and not taken yet. */
  pending (): IPublishPacket[] {
    return this.raw.packets.filter((p: Packet): p is IPublishPacket => p.cmd === 'publish')
  }

  ack (packet: IPublishPacket): void {
    this.raw.send({ cmd: 'puback', messageId: packet.messageId })
  }

  disconnect (): void {
    this.raw.send({ cmd: 'disconnect' })
  }
}

/** The priority a test message carries in its payload (`<priority>:<seq>`). */
export function parse (payload: Buffer | string): { priority: number, seq: number } {
  const [p, s] = payload.toString().split(':')
  return { priority: Number(p), seq: Number(s) }
}

/** Priorities must never rise; seqs rise within each priority. Returns the first violation, if any. */
export function orderViolation (items: ReadonlyArray<{ priority: number, seq: number }>): string | undefined {
  const lastSeq = new Map<number, number>()
  for (let i = 0; i < items.length; i++) {
    const { priority, seq } = items[i] as { priority: number, seq: number }
    const prev = items[i - 1]
    if (prev !== undefined && prev.priority < priority) return `#${i}: priority ${priority} after ${prev.priority}`
    const last = lastSeq.get(priority)
    if (last !== undefined && last >= seq) return `#${i}: priority ${priority} seq ${seq} after ${last}`
    lastSeq.set(priority, seq)
  }
  return undefined
}
