import { describe, expect, test } from 'vitest'
import type { OutboundPublish } from '../../src/core/hooks.js'
import type { ClientInfo } from '../../src/core/message.js'
import { definePlugin, type BrokerApi } from '../../src/core/plugin-api.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { wrapStoreMethod } from '../helpers/store-method.js'

/**
 * The two core seams this plugin needs (BrokerApi.deliverTo / clientOf), and
 * the aedes 1.2 behaviour under them, pinned.
 */
function probe (): { plugin: ReturnType<typeof definePlugin>, api: () => BrokerApi, seen: OutboundPublish[], storeClients: object[] } {
  let api: BrokerApi | undefined
  const seen: OutboundPublish[] = []
  const storeClients: object[] = []
  const plugin = definePlugin({
    name: 'probe',
    register (broker) {
      api = broker
      broker.hooks.add('authorizeForward', (_client, packet) => { seen.push(packet); return undefined })
      broker.decoratePersistence(wrapStoreMethod('outgoingStream', (original) => (client: object) => {
        storeClients.push(client)
        return original(client)
      }))
    },
  })
  return { plugin, api: () => api as BrokerApi, seen, storeClients }
}

describe('core seams for waiting messages', () => {
  test('deliverTo re-delivers an older message to one connection (past aedes\'s duplicate check), then reports it gone', async () => {
    const { plugin, api, seen } = probe()
    const broker = await startBroker({}, { plugins: [plugin as never] })
    const ready = new Promise<ClientInfo>((resolve) => broker.on('clientReady', (c) => { if (c.id === 'seam-1') resolve(c) }))
    const sub = await connectClient(broker.mqttUrl, { clientId: 'seam-1' })
    const info = await ready
    await sub.subscribeAsync('t/#', { qos: 1 })
    const pub = await connectClient(broker.mqttUrl)
    const two = new Promise<void>((resolve) => { let n = 0; sub.on('message', () => { if (++n === 2) resolve() }) })
    await pub.publishAsync('t/a', 'first', { qos: 1 })
    await pub.publishAsync('t/a', 'second', { qos: 1 })
    await two

    const first = seen.find((p) => p.payload.toString() === 'first') as OutboundPublish
    expect(typeof first.brokerId).toBe('string')
    const again = nextMessage(sub)
    const before = seen.length
    expect(api().deliverTo(info, first)).toBe(true)
    // the authorizeForward chain ran before deliverTo returned
    expect(seen.length).toBe(before + 1)
    const got = await again
    expect(got.payload.toString()).toBe('first')
    expect(got.packet.dup).toBe(false)

    // The duplicate check still holds for everything else: a newer live message arrives once.
    const third = nextMessage(sub)
    await pub.publishAsync('t/a', 'third', { qos: 1 })
    expect((await third).payload.toString()).toBe('third')

    const gone = new Promise<void>((resolve) => broker.on('clientDisconnect', (c) => { if (c === info) resolve() }))
    await sub.endAsync()
    await gone
    expect(api().deliverTo(info, first)).toBe(false)
  })

  test('deliverTo hands over a message the client was handed live moments before, in the same routing', async () => {
    // (a queue-group member with a plain subscription of its own gets both copies, as MQTT 5 has it)
    const { plugin, api, seen } = probe()
    let target: ClientInfo | undefined
    const got: string[] = []
    const relay = definePlugin({
      name: 'relay-again',
      register (broker) {
        broker.onStart(async () => {
          await broker.subscribe('again/+', (message) => { // (matched after the client's exact filters)
            const packet = seen.find((p) => p.topic === message.topic)
            if (packet !== undefined && target !== undefined) broker.deliverTo(target, packet)
          })
        })
      },
    })
    const broker = await startBroker({}, { plugins: [plugin as never, relay as never] })
    const ready = new Promise<ClientInfo>((resolve) => broker.on('clientReady', (c) => { if (c.id === 'seam-3') resolve(c) }))
    const sub = await connectClient(broker.mqttUrl, { clientId: 'seam-3' })
    target = await ready
    await sub.subscribeAsync({ 'again/x': { qos: 1 }, 'again/end': { qos: 1 } })
    sub.on('message', (topic) => got.push(topic))
    const end = nextMessage(sub, 'again/end')
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('again/x', 'x', { qos: 1 })
    await pub.publishAsync('again/end', 'end', { qos: 1 })
    await end
    expect(got.filter((t) => t === 'again/x')).toHaveLength(2)
  })

  test('clientOf maps the client objects aedes hands the store to their connection, and nothing else', async () => {
    const { plugin, api, storeClients } = probe()
    const broker = await startBroker({}, { plugins: [plugin as never] })
    const ready = new Promise<ClientInfo>((resolve) => broker.on('clientReady', (c) => resolve(c)))
    await connectClient(broker.mqttUrl, { clientId: 'seam-2', clean: false })
    const info = await ready
    expect(storeClients).toHaveLength(1)
    expect(api().clientOf(storeClients[0] as object)).toBe(info)
    expect(api().clientOf({ id: 'seam-2' })).toBeUndefined()
  })
})
