/**
 * [MQTT-3.3.5-1] overlapping subscriptions: one copy at the highest QoS of the
 * client's matching filters, as the filters change. aedes's lowering to the
 * QoS of the topic's own filter is switched off for that filter once it would
 * be wrong (spec-overlap.ts); these check its own grant still counts after.
 */
import type { MqttClient } from 'mqtt'
import { expect, test } from 'vitest'
import type { BrokerApi } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient } from '../helpers/clients.js'
import { scrape } from '../sys/helpers.js'
import { type PublishIn, rawConnected, rawSubscribe, receivedUntil } from './support.js'

/** A subscriber with `filters` and a publisher, on a broker of their own. */
async function overlapping (filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<{ sub: MqttClient, pub: MqttClient }> {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  const pub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync(filters)
  return { sub, pub }
}

async function qosOf (sub: MqttClient, pub: MqttClient, topic: string, qos: 0 | 1 | 2): Promise<number[]> {
  const got = receivedUntil(sub, 'overlap/sentinel')
  await pub.publishAsync(topic, 'x', { qos })
  await pub.publishAsync('overlap/sentinel', 'end', { qos: 1 })
  return (await got).map((m) => m.packet.qos)
}

test('[MQTT-3.3.5-1] after UNSUBSCRIBE of the wildcard, the topic\'s own QoS 0 filter delivers at QoS 0 again', async () => {
  const { sub, pub } = await overlapping({ 'overlap/a': { qos: 0 }, 'overlap/#': { qos: 1 } })
  expect(await qosOf(sub, pub, 'overlap/a', 1)).toEqual([1])
  await sub.unsubscribeAsync('overlap/#')
  await sub.subscribeAsync({ 'overlap/sentinel': { qos: 1 } })
  expect(await qosOf(sub, pub, 'overlap/a', 1)).toEqual([0])
})

test('[MQTT-3.3.5-1] [MQTT-3.8.4-3] the topic\'s own filter subscribed again at the overlap\'s QoS keeps it when the wildcard goes', async () => {
  const { sub, pub } = await overlapping({ 'overlap/a': { qos: 0 }, 'overlap/#': { qos: 1 } })
  expect(await qosOf(sub, pub, 'overlap/a', 2)).toEqual([1])
  await sub.subscribeAsync({ 'overlap/a': { qos: 1 } })
  await sub.unsubscribeAsync('overlap/#')
  await sub.subscribeAsync({ 'overlap/sentinel': { qos: 1 } })
  expect(await qosOf(sub, pub, 'overlap/a', 2)).toEqual([1])
})

test('[MQTT-3.3.5-1] the wildcard re-subscribed at a lower QoS lowers the overlap to it', async () => {
  const { sub, pub } = await overlapping({ 'overlap/a': { qos: 0 }, 'overlap/#': { qos: 2 } })
  expect(await qosOf(sub, pub, 'overlap/a', 2)).toEqual([2])
  await sub.subscribeAsync({ 'overlap/#': { qos: 1 } })
  expect(await qosOf(sub, pub, 'overlap/a', 2)).toEqual([1])
})

test('[MQTT-3.3.5-1] a returning persistent session keeps the highest QoS of its restored filters', async () => {
  const broker = await startBroker()
  const opts = { clientId: 'overlap-back', clean: false, reconnectPeriod: 0 }
  const first = await connectClient(broker.mqttUrl, opts)
  await first.subscribeAsync({ 'overlap/a': { qos: 1 }, 'overlap/#': { qos: 2 }, 'overlap/sentinel': { qos: 1 } })
  await first.endAsync()
  const sub = await connectClient(broker.mqttUrl, opts)
  const pub = await connectClient(broker.mqttUrl)
  expect(await qosOf(sub, pub, 'overlap/a', 2)).toEqual([2])
  expect(await qosOf(sub, pub, 'overlap/b', 2)).toEqual([2])
})

// aedes lowers a delivery in an immediate after the rules ran: a SUBSCRIBE of the topic's own filter
// in between put a fresh entry there, the copy went out at QoS 0, and the inflight window, which had
// counted it as QoS 1, never got the slot back. A plugin's async authorizeSubscribe sequences it.
test.each([true, false])('[MQTT-3.3.5-1] a SUBSCRIBE of the topic\'s own filter while a delivery is on its way (clean %s): QoS 1, the window slot comes back', async (clean) => {
  let armed = false
  let api!: BrokerApi
  const broker = await startBroker({
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }],
  }, {
    plugins: [{
      name: 'sequencer',
      register: (b) => {
        api = b
        b.hooks.add('authorizeSubscribe', async (_client, sub) => {
          if (!armed || sub.topic !== 'rc/a') return 'defer' as const
          armed = false
          const delivered = new Promise<void>((resolve) => {
            const on = (m: { topic: string }): void => { if (m.topic === 'rc/a') { b.events.off('deliver', on); resolve() } }
            b.events.on('deliver', on)
          })
          void b.publish({ topic: 'rc/a', payload: 'x', qos: 1 })
          await delivered
          return 'defer' as const
        })
      },
    }],
  })
  const sub = await rawConnected(broker.mqttUrl, { clean, clientId: `rc-${String(clean)}` })
  await rawSubscribe(sub, [{ topic: 'rc/a', qos: 0 }, { topic: 'rc/#', qos: 1 }], 1)
  armed = true
  const got = sub.next('publish', (p: PublishIn) => p.topic === 'rc/a')
  await rawSubscribe(sub, [{ topic: 'rc/a', qos: 0 }], 2)
  const first = await got as PublishIn
  if (first.qos > 0) sub.send({ cmd: 'puback', messageId: first.messageId })
  const next = sub.next('publish', (p: PublishIn) => p.topic === 'rc/b')
  await api.publish({ topic: 'rc/b', payload: 'y', qos: 1 })
  const second = await next as PublishIn
  const acked = new Promise<void>((resolve) => { api.events.on('ack', () => { resolve() }) })
  sub.send({ cmd: 'puback', messageId: second.messageId })
  await acked
  const inflight = (await scrape(`${broker.addresses().find((a) => a.type === 'http')?.url ?? ''}/metrics`)).value('midge_inflight_messages')
  expect({ qos: first.qos, inflight }).toEqual({ qos: 1, inflight: 0 })
})
