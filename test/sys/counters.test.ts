import { Readable } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { BrokerEvents } from '../../src/core/events.js'
import type { ClientInfo } from '../../src/core/message.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { SubscriptionTally } from '../../src/sys/subscription-tally.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'
import { wrapStoreMethod } from '../helpers/store-method.js'
import { countEvents, scrape, startSysBroker } from './helpers.js'

// Counted from events, read through /metrics (no $SYS ticks needed: interval 0).
describe('broker counters fed by events', () => {
  test('persistent sessions: disconnected, total, maximum and their subscriptions', async () => {
    const broker = await startSysBroker({ interval: 0 })
    const figures = async (): Promise<Record<string, number | undefined>> => {
      const m = await scrape(broker.metricsUrl)
      return {
        connected: m.value('midge_clients_connected'),
        disconnected: m.value('midge_clients_disconnected'),
        total: m.value('midge_clients_registered'),
        maximum: m.value('midge_clients_maximum'),
        subscriptions: m.value('midge_subscriptions'),
      }
    }
    const durable = await connectClient(broker.mqttUrl, { clientId: 'durable', clean: false })
    await durable.subscribeAsync(['a/#', 'b/+'], { qos: 1 })
    await durable.subscribeAsync('a/#', { qos: 0 }) // replaces, does not add
    const passer = await connectClient(broker.mqttUrl, { clientId: 'passer' })
    await passer.subscribeAsync('c')
    expect(await figures()).toEqual({ connected: 2, disconnected: 0, total: 2, maximum: 2, subscriptions: 3 })

    const gone = countEvents(broker, 'clientDisconnect', 2)
    await Promise.all([durable.endAsync(), passer.endAsync()])
    await gone
    // The durable session keeps its 2 subscriptions; the clean one's are gone.
    expect(await figures()).toEqual({ connected: 0, disconnected: 1, total: 1, maximum: 2, subscriptions: 2 })

    const back = await connectClient(broker.mqttUrl, { clientId: 'durable', clean: false })
    expect(await figures()).toEqual({ connected: 1, disconnected: 0, total: 1, maximum: 2, subscriptions: 2 })
    const left = countEvents(broker, 'clientDisconnect', 1)
    await back.endAsync()
    await left
    // A clean session with the same id discards the stored one.
    await connectClient(broker.mqttUrl, { clientId: 'durable', clean: true })
    expect(await figures()).toEqual({ connected: 1, disconnected: 0, total: 1, maximum: 2, subscriptions: 0 })
  })

  test('a client id taken over counts once', async () => {
    const broker = await startSysBroker({ interval: 0 })
    const first = await connectClient(broker.mqttUrl, { clientId: 'same' })
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    await connectClient(broker.mqttUrl, { clientId: 'same' })
    await closed
    const m = await scrape(broker.metricsUrl)
    expect(m.value('midge_clients_connected')).toBe(1)
    expect(broker.stats().connectedClients).toBe(1)
  })

  test('retained messages: count and bytes follow sets, replacements and clears', async () => {
    const broker = await startSysBroker({ interval: 0 })
    const client = await connectClient(broker.mqttUrl)
    await client.publishAsync('r/1', '12345', { qos: 1, retain: true })
    await client.publishAsync('r/2', '123', { qos: 1, retain: true })
    await client.publishAsync('r/2', '1234567', { qos: 1, retain: true })
    await client.publishAsync('r/1', '', { qos: 1, retain: true })
    await client.publishAsync('not/retained', 'xxxxxxxx', { qos: 1 })
    const m = await scrape(broker.metricsUrl)
    expect(m.value('midge_retained_messages')).toBe(1)
    expect(m.value('midge_store_messages')).toBe(1)
    expect(m.value('midge_store_message_bytes')).toBe(7)
    expect(m.value('midge_publish_messages_received_total')).toBe(5)
  })

  test('a connection that closes before aedes calls it ready is not counted as connected', async () => {
    // the reconnect stream of this client's session ends only once its connection is gone
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    const slowStream = definePlugin({
      name: 'slow-reconnect-stream',
      register (broker) {
        broker.decoratePersistence(wrapStoreMethod('outgoingStream', (original) => (client: { id: string }) => {
          if (client.id !== 'leaves-early') return original(client)
          return Readable.from((async function * () { await gate })())
        }))
      },
    })
    const capture = captureLog()
    const broker = await startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }], sys: { interval: 0 } }, { plugins: [slowStream], logger: capture.log })
    const metricsUrl = `${broker.addresses().find((a) => a.type === 'http')?.url ?? ''}/metrics`
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect({ clientId: 'leaves-early', clean: true })
    const gone = new Promise<void>((resolve) => broker.on('clientDisconnect', (c) => { if (c.id === 'leaves-early') resolve() }))
    raw.socket.destroy()
    await gone
    release()
    // aedes's clientReady for it, passed on (the bug) or not
    await Promise.race([
      capture.waitFor('connection closed before it was ready'),
      new Promise<void>((resolve) => broker.on('clientReady', (c) => { if (c.id === 'leaves-early') resolve() })),
    ])
    const other = await connectClient(broker.mqttUrl, { clientId: 'stays' })
    expect((await scrape(metricsUrl)).value('midge_clients_connected')).toBe(1)
    await other.endAsync()
  })
})

describe('subscription tally', () => {
  const client = (id: string, clean: boolean): ClientInfo => ({ id, clean }) as unknown as ClientInfo

  test('the late close of a taken-over clean connection takes nothing from its successor', () => {
    const events = new BrokerEvents()
    const tally = new SubscriptionTally()
    tally.attach(events)
    const old = client('same', true)
    const successor = client('same', true)
    events.emit('clientReady', old)
    events.emit('subscribe', [{ topic: 'a', qos: 1 }], old)
    events.emit('clientReady', successor)
    events.emit('subscribe', [{ topic: 'b', qos: 1 }, { topic: 'c', qos: 128 }], successor)
    events.emit('clientDisconnect', old)
    expect(tally.count).toBe(1)
    events.emit('clientDisconnect', successor)
    expect(tally.count).toBe(0)
  })

  test('clean sessions only: a persistent session is left to the store', () => {
    const events = new BrokerEvents()
    const tally = new SubscriptionTally({ persistent: false })
    const detach = tally.attach(events)
    const durable = client('d', false)
    events.emit('clientReady', durable)
    events.emit('subscribe', [{ topic: 'a', qos: 1 }], durable)
    const passer = client('p', true)
    events.emit('clientReady', passer)
    events.emit('subscribe', [{ topic: 'a', qos: 1 }, { topic: 'a', qos: 0 }], passer)
    expect(tally.count).toBe(1)
    detach()
    events.emit('clientDisconnect', passer)
    expect(tally.count).toBe(1)
  })
})
