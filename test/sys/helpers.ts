import type { IPublishPacket, MqttClient } from 'mqtt'
import type { Broker } from '../../src/broker.js'
import type { BrokerEventMap } from '../../src/core/events.js'
import { definePlugin, type Plugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import type { Received } from '../helpers/clients.js'

/** A broker with an MQTT and an HTTP listener (port 0) and the given `sys` section. */
export async function startSysBroker (sys: { interval: number }, plugins: Array<Plugin<never>> = []): Promise<Awaited<ReturnType<typeof startBroker>> & { metricsUrl: string }> {
  const broker = await startBroker({
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }],
    sys,
  }, { plugins })
  const http = broker.addresses().find((a) => a.type === 'http')
  return Object.assign(broker, { metricsUrl: `${http?.url ?? ''}/metrics` })
}

/**
 * Records every `$SYS/broker/...` value the broker publishes, from the first
 * one (it registers as a plugin, so it sees the values published at start).
 */
export function sysRecorder (): { plugin: Plugin<never>, latest: Map<string, string>, waitFor: (topic: string, expected: string | ((payload: string) => boolean)) => Promise<string> } {
  const latest = new Map<string, string>()
  const waiters = new Set<() => void>()
  const plugin = definePlugin<never>({
    name: 'sys-recorder',
    register (broker) {
      broker.events.on('publish', (message, client) => {
        if (client !== undefined || !message.topic.startsWith('$SYS/broker/')) return
        latest.set(message.topic, message.payload.toString())
        for (const check of waiters) check()
      })
    },
  })
  /** Resolves once the latest value of `topic` is `expected` (or passes it); rejects after 5 s naming the last value. */
  const waitFor = (topic: string, expected: string | ((payload: string) => boolean)): Promise<string> => {
    const ok = typeof expected === 'string' ? (p: string) => p === expected : expected
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = latest.get(topic)
        if (value === undefined || !ok(value)) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve(value)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`${topic}: still ${JSON.stringify(latest.get(topic))}, expected ${String(expected)}`))
      }, 5_000)
      waiters.add(check)
      check()
    })
  }
  return { plugin: plugin as Plugin<never>, latest, waitFor }
}

/** Resolves after `count` broker events `event` that pass `filter`. Subscribe before causing them. */
export function countEvents<K extends keyof BrokerEventMap> (broker: Broker, event: K, count: number, filter: (...args: BrokerEventMap[K]) => boolean = () => true): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const listener = (...args: BrokerEventMap[K]): void => {
      if (filter(...args) && ++seen === count) {
        broker.off(event, listener)
        resolve()
      }
    }
    broker.on(event, listener)
  })
}

/** GET /metrics, parsed: `name{labels}` → value (process metrics included). */
export async function scrape (url: string): Promise<{ text: string, contentType: string, value: (key: string) => number | undefined }> {
  const res = await fetch(url)
  const text = await res.text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    values.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return { text, contentType: res.headers.get('content-type') ?? '', value: (key) => values.get(key) }
}

/** The next `count` messages whose topic passes `filter` (others are ignored). */
export function collectMatching (client: MqttClient, count: number, filter: (topic: string) => boolean): Promise<Received[]> {
  return new Promise((resolve) => {
    const got: Received[] = []
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
      if (!filter(topic)) return
      got.push({ topic, payload, packet })
      if (got.length === count) {
        client.off('message', onMessage)
        resolve(got)
      }
    }
    client.on('message', onMessage)
  })
}
