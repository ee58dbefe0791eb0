/**
 * MQTT 3.1.1 §3.3.1.3 RETAIN: storing, replacing, clearing and delivering
 * retained messages (Paho "retained messages" test included).
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { collectMessages, connectClient, nextMessage } from '../helpers/clients.js'
import { rawConnected, rawReceivedUntil, rawSubscribe, receivedUntil } from './support.js'

test('[MQTT-3.3.1-5] [MQTT-3.3.1-6] a retained message is stored and sent to a new subscriber (Paho retained test)', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('TopicA/B', 'qos 0', { qos: 0, retain: true })
  await pub.publishAsync('Topic/C', 'qos 1', { qos: 1, retain: true })
  await pub.publishAsync('TopicA/C', 'qos 2', { qos: 2, retain: true })
  const sub = await connectClient(broker.mqttUrl)
  const got = collectMessages(sub, 3)
  await sub.subscribeAsync('+/+', { qos: 2 })
  const messages = await got
  expect(messages.map((m) => [m.topic, m.payload.toString(), m.packet.qos]).sort()).toEqual([
    ['Topic/C', 'qos 1', 1], ['TopicA/B', 'qos 0', 0], ['TopicA/C', 'qos 2', 2],
  ])
})

test('[MQTT-3.3.1-10] [MQTT-3.3.1-11] a zero-byte retained message clears the topic and is not stored', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  for (const [topic, qos] of [['TopicA/B', 0], ['Topic/C', 1], ['TopicA/C', 2]] as const) {
    await pub.publishAsync(topic, 'x', { qos, retain: true })
    await pub.publishAsync(topic, '', { qos, retain: true })
  }
  // Retained messages for one filter are sent one after another, oldest first: a retained sentinel stored last comes last.
  await pub.publishAsync('zz/sentinel', 'end', { retain: true })
  const sub = await connectClient(broker.mqttUrl)
  const got = receivedUntil(sub, 'zz/sentinel')
  await sub.subscribeAsync('+/+', { qos: 2 })
  expect(await got).toEqual([])
})

test('[MQTT-3.3.1-10] a zero-byte retained message is still forwarded to current subscribers', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('clear/#')
  const got = nextMessage(sub)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('clear/a', '', { retain: true })
  expect((await got).payload.length).toBe(0)
})

test('[MQTT-3.3.1-7] a QoS 0 retained message replaces the previous retained message', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('replace/a', 'old', { qos: 1, retain: true })
  await pub.publishAsync('replace/a', 'new', { qos: 0, retain: true })
  await pub.publishAsync('replace/sentinel', 'end', { retain: true })
  const sub = await connectClient(broker.mqttUrl)
  const got = receivedUntil(sub, 'replace/sentinel')
  await sub.subscribeAsync('replace/#')
  expect((await got).map((m) => m.payload.toString())).toEqual(['new'])
})

test('[MQTT-3.3.1-12] a PUBLISH with RETAIN 0 neither stores nor removes the retained message', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('keep/a', 'retained', { retain: true })
  await pub.publishAsync('keep/a', 'live', { retain: false })
  await pub.publishAsync('keep/a', '', { retain: false })
  await pub.publishAsync('keep/sentinel', 'end', { retain: true })
  const sub = await connectClient(broker.mqttUrl)
  const got = receivedUntil(sub, 'keep/sentinel')
  await sub.subscribeAsync('keep/#')
  expect((await got).map((m) => m.payload.toString())).toEqual(['retained'])
})

test('[MQTT-3.3.1-8] [MQTT-3.3.1-9] RETAIN is 1 on delivery for a new subscription and 0 on normal forwarding', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  const live = await connectClient(broker.mqttUrl)
  await live.subscribeAsync('flag/#')
  const forwarded = nextMessage(live)
  await pub.publishAsync('flag/a', 'x', { retain: true })
  expect((await forwarded).packet.retain).toBe(false)
  const late = await connectClient(broker.mqttUrl)
  const onSubscribe = nextMessage(late)
  await late.subscribeAsync('flag/#')
  expect((await onSubscribe).packet.retain).toBe(true)
})

test('[MQTT-3.8.4-6] a retained message is delivered at the lower of its QoS and the granted QoS', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('rq/a', 'q2', { qos: 2, retain: true })
  await pub.publishAsync('rq/sentinel', 'end', { retain: true })
  const raw = await rawConnected(broker.mqttUrl)
  const got = rawReceivedUntil(raw, 'rq/sentinel')
  await rawSubscribe(raw, [{ topic: 'rq/+', qos: 1 }])
  const messages = await got
  expect(messages.map((p) => [p.topic, p.qos, p.retain])).toEqual([['rq/a', 1, true]])
})

test('[MQTT-3.1.2-7] retained messages outlive the session of the client that published them', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl, { clean: true })
  await pub.publishAsync('outlive/a', 'x', { retain: true })
  await pub.endAsync()
  const sub = await connectClient(broker.mqttUrl)
  const got = nextMessage(sub)
  await sub.subscribeAsync('outlive/a')
  expect((await got).payload.toString()).toBe('x')
})
