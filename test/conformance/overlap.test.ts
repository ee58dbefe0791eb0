/**
 * [MQTT-3.3.5-1] overlapping subscriptions: one copy at the highest QoS of the
 * client's matching filters, as the filters change. aedes's lowering to the
 * QoS of the topic's own filter is switched off for that filter once it would
 * be wrong (spec-overlap.ts); these check its own grant still counts after.
 */
import type { MqttClient } from 'mqtt'
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient } from '../helpers/clients.js'
import { receivedUntil } from './support.js'

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
