/**
 * MQTT 3.1.1 §3.8 SUBSCRIBE, §3.9 SUBACK, §3.10 UNSUBSCRIBE, §3.11 UNSUBACK,
 * plus `mqtt.denySubscribe` (SUBACK 0x80, Paho "subscribe failure") and `mqtt.maxQos`.
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { closedBy, frame, type PublishIn, rawConnected, rawReceivedUntil, rawSubscribe, receivedUntil, subscribeBytes } from './support.js'

test('[MQTT-3.8.4-1] [MQTT-3.8.4-2] SUBSCRIBE is answered with a SUBACK carrying the same packet identifier', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  const suback = await rawSubscribe(raw, [{ topic: 'sa/#', qos: 1 }], 4321)
  expect(suback.messageId).toBe(4321)
  expect(suback.granted).toEqual([1])
})

test('[MQTT-3.8.4-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] several filters get one SUBACK with a code per filter, in order', async () => {
  const broker = await startBroker({ mqtt: { denySubscribe: ['nosubscribe'] } })
  const raw = await rawConnected(broker.mqttUrl)
  const suback = await rawSubscribe(raw, [
    { topic: 'm/2', qos: 2 }, { topic: 'nosubscribe', qos: 1 }, { topic: 'm/0', qos: 0 }, { topic: 'm/1', qos: 1 },
  ])
  expect(suback.granted).toEqual([2, 0x80, 0, 1])
})

// aedes merges repeated filters of one SUBSCRIBE before any hook sees the packet (spec-suback.ts).
test('[MQTT-3.8.4-4] a filter repeated in one SUBSCRIBE still gets one return code per entry, and the last one stays', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  const suback = await rawSubscribe(raw, [{ topic: 'rep', qos: 1 }, { topic: 'other', qos: 0 }, { topic: 'rep', qos: 2 }])
  expect(suback.granted).toEqual([1, 0, 2])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('rep', 'x', { qos: 2 })
  expect((await raw.next('publish') as PublishIn).qos).toBe(2)
})

test('[MQTT-3.8.4-5] SUBSCRIBEs of the same filter sent in one write each get their own grant', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'lower-odd', register: (api) => { api.hooks.add('authorizeSubscribe', async (_c, sub) => await Promise.resolve(sub.qos === 1 ? { rewrite: { ...sub, qos: 0 as const } } : 'allow')) } }],
  })
  const raw = await rawConnected(broker.mqttUrl)
  const subacks = [1, 2, 3].map((id) => raw.next('suback', (p) => (p as { messageId?: number }).messageId === id))
  raw.writeRaw(Buffer.concat([subscribeBytes([{ topic: 'same', options: 2 }], 1), subscribeBytes([{ topic: 'same', options: 1 }], 2), subscribeBytes([{ topic: 'same', options: 0 }, { topic: 'same', options: 2 }], 3)]))
  expect((await Promise.all(subacks)).map((s) => (s as { granted: number[] }).granted)).toEqual([[2], [0], [0, 2]])
})

test('[MQTT-3.8.4-4] an earlier entry of a repeated filter is never reported above what the hooks grant the filter', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'cap1', register: (api) => { api.hooks.add('authorizeSubscribe', (_c, sub) => ({ rewrite: { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 } })) } }],
  })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'cap', qos: 2 }, { topic: 'cap', qos: 1 }])).granted).toEqual([1, 1])
})

test('authorizeSubscribe: a rewrite without a valid QoS keeps the requested one', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'topic-only', register: (api) => { api.hooks.add('authorizeSubscribe', (_c, sub) => ({ rewrite: { topic: `t/${sub.topic}` } as typeof sub })) } }],
  })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'x', qos: 1 }])).granted).toEqual([1])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('t/x', 'y', { qos: 1 })
  expect((await raw.next('publish') as PublishIn).qos).toBe(1)
})

test('[MQTT-3.8.4-4] a repeated filter that is refused is refused in every entry; maxQos caps each entry', async () => {
  const broker = await startBroker({ mqtt: { denySubscribe: ['no/#'], maxQos: 1 } })
  const raw = await rawConnected(broker.mqttUrl)
  const suback = await rawSubscribe(raw, [{ topic: 'no/x', qos: 1 }, { topic: 'yes', qos: 2 }, { topic: 'no/x', qos: 0 }, { topic: 'yes', qos: 0 }, { topic: 'yes', qos: 1 }])
  expect(suback.granted).toEqual([0x80, 1, 0x80, 0, 1])
})

test('[MQTT-3.9.3-2] SUBACK return codes are only 0x00, 0x01, 0x02 or 0x80 (Paho subscribe failure: nosubscribe)', async () => {
  const broker = await startBroker({ mqtt: { denySubscribe: ['nosubscribe', 'private/#'] } })
  const raw = await rawConnected(broker.mqttUrl)
  const suback = await rawSubscribe(raw, [{ topic: 'nosubscribe', qos: 2 }, { topic: 'private/x', qos: 1 }, { topic: 'public/x', qos: 2 }])
  expect(suback.granted).toEqual([0x80, 0x80, 2])
})

test('[MQTT-3.9.3-2] a refused subscription (denySubscribe) receives nothing', async () => {
  const broker = await startBroker({ mqtt: { denySubscribe: ['nosubscribe'] } })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'nosubscribe', qos: 0 }, { topic: 'deny/sentinel', qos: 0 }])).granted).toEqual([0x80, 0])
  const got = rawReceivedUntil(raw, 'deny/sentinel')
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('nosubscribe', 'x')
  await pub.publishAsync('deny/sentinel', 'end')
  expect(await got).toEqual([])
})

test('[MQTT-3.8.4-5] with mqtt.maxQos 1, a QoS 2 request is granted QoS 1 in the SUBACK and delivered at QoS 1', async () => {
  const broker = await startBroker({ mqtt: { maxQos: 1 } })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'cap/#', qos: 2 }, { topic: 'cap0', qos: 0 }])).granted).toEqual([1, 0])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('cap/a', 'x', { qos: 2 })
  expect((await raw.next('publish') as PublishIn).qos).toBe(1)
})

test('[MQTT-3.8.4-3] subscribing again to the same filter replaces the subscription and re-sends retained messages', async () => {
  const broker = await startBroker()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('again/a', 'kept', { qos: 1, retain: true })
  const raw = await rawConnected(broker.mqttUrl)
  await rawSubscribe(raw, [{ topic: 'again/#', qos: 0 }], 1)
  expect((await raw.next('publish') as PublishIn).qos).toBe(0)
  await rawSubscribe(raw, [{ topic: 'again/#', qos: 1 }], 2)
  const resent = await raw.next('publish')
  expect(resent).toMatchObject({ topic: 'again/a', qos: 1, retain: true })
  await pub.publishAsync('again/b', 'live', { qos: 1 })
  const got = rawReceivedUntil(raw, 'again/sentinel')
  await pub.publishAsync('again/sentinel', 'end', { qos: 1 })
  // One subscription, now at QoS 1: one copy of each message.
  expect((await got).map((p) => [p.topic, p.qos])).toEqual([['again/b', 1]])
})

test('[MQTT-3.8.1-1] [MQTT-2.2.2-2] SUBSCRIBE with reserved header flags other than 0010 closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(subscribeBytes([{ topic: 'a', options: 0 }], 1, 0x00))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.8.3-3] SUBSCRIBE without a topic filter closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0x82, Buffer.from([0, 1])))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.8.3-4] a requested QoS of 3 or reserved option bits close the connection', async () => {
  const broker = await startBroker()
  for (const options of [3, 0x04, 0x80]) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.writeRaw(subscribeBytes([{ topic: 'a', options }]))
    expect(await closedBy(raw)).toBe(true)
    expect(raw.packets.filter((p) => p.cmd === 'suback')).toEqual([])
  }
})

test('[MQTT-2.3.1-1] SUBSCRIBE or UNSUBSCRIBE with packet identifier 0 closes the connection', async () => {
  const broker = await startBroker()
  const sub = await rawConnected(broker.mqttUrl)
  sub.writeRaw(subscribeBytes([{ topic: 'a', options: 0 }], 0))
  expect(await closedBy(sub)).toBe(true)
  const unsub = await rawConnected(broker.mqttUrl)
  unsub.writeRaw(frame(0xa2, Buffer.from([0, 0, 0, 1, 0x61])))
  expect(await closedBy(unsub)).toBe(true)
})

test('[MQTT-3.10.1-1] [MQTT-2.2.2-2] UNSUBSCRIBE with reserved header flags other than 0010 closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0xa0, Buffer.from([0, 1, 0, 1, 0x61])))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.10.3-2] UNSUBSCRIBE without a topic filter closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0xa2, Buffer.from([0, 1])))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.10.4-4] [MQTT-3.10.4-5] UNSUBACK carries the packet identifier, even when nothing matched', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'unsubscribe', messageId: 77, unsubscriptions: ['never/subscribed'] })
  expect((await raw.next('unsuback') as { messageId: number }).messageId).toBe(77)
})

test('[MQTT-3.10.4-1] filters are compared character by character: unsubscribing `un/+` leaves `un/a`', async () => {
  const broker = await startBroker()
  const client = await connectClient(broker.mqttUrl)
  await client.subscribeAsync(['un/a', 'un/sentinel'])
  await client.unsubscribeAsync('un/+')
  const got = nextMessage(client, 'un/a')
  await client.publishAsync('un/a', 'still here')
  expect((await got).payload.toString()).toBe('still here')
})

test('[MQTT-3.10.4-2] [MQTT-3.10.4-6] after UNSUBSCRIBE of several filters no new messages arrive for them (Paho unsubscribe)', async () => {
  const broker = await startBroker()
  const client = await connectClient(broker.mqttUrl)
  await client.subscribeAsync(['TopicA', 'TopicA/B', 'Topic/C', 'un2/sentinel'], { qos: 2 })
  await client.unsubscribeAsync(['TopicA/B', 'Topic/C'])
  const got = receivedUntil(client, 'un2/sentinel')
  for (const topic of ['TopicA', 'TopicA/B', 'Topic/C']) await client.publishAsync(topic, topic, { qos: 1 })
  await client.publishAsync('un2/sentinel', 'end', { qos: 1 })
  expect((await got).map((m) => m.topic)).toEqual(['TopicA'])
})

test('[MQTT-3.10.4-3] an in-flight QoS 1 delivery is completed after UNSUBSCRIBE', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  await rawSubscribe(raw, [{ topic: 'inflight/#', qos: 1 }])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('inflight/a', 'x', { qos: 1 })
  const delivery = await raw.next('publish')
  raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['inflight/#'] })
  await raw.next('unsuback')
  raw.send({ cmd: 'puback', messageId: (delivery as { messageId: number }).messageId })
  raw.send({ cmd: 'pingreq' })
  await raw.next('pingresp')
})

// aedes builds the SUBACK from the requested QoS captured before `authorizeSubscribe` runs, so a
// plugin that lowers the QoS with `{ rewrite }` is delivered at the lower QoS but reported at the
// requested one. (`mqtt.maxQos` is applied on the wire instead, see above.)
test('[MQTT-3.8.4-5] a QoS lowered by an authorizeSubscribe rewrite shows in the SUBACK', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'qos0-only', register: (api) => { api.hooks.add('authorizeSubscribe', async (_c, sub) => await Promise.resolve(sub.topic.startsWith('rw/') ? { rewrite: { ...sub, qos: 0 as const } } : 'allow')) } }],
  })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'rw/#', qos: 2 }])).granted).toEqual([0])
  expect((await rawSubscribe(raw, [{ topic: 'ok/1', qos: 1 }, { topic: 'rw/a', qos: 1 }, { topic: 'ok/2', qos: 2 }, { topic: 'rw/a', qos: 2 }], 7)).granted).toEqual([1, 0, 2, 0])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('rw/a', 'x', { qos: 2 })
  expect((await raw.next('publish') as PublishIn).qos).toBe(0)
})

test('[MQTT-3.9.3-1] a rewrite cannot grant more than the request', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'raise', register: (api) => { api.hooks.add('authorizeSubscribe', (_c, sub) => ({ rewrite: { ...sub, qos: 2 } })) } }],
  })
  const raw = await rawConnected(broker.mqttUrl)
  expect((await rawSubscribe(raw, [{ topic: 'up/#', qos: 0 }])).granted).toEqual([0])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('up/a', 'x', { qos: 2 })
  expect((await raw.next('publish') as PublishIn).qos).toBe(0)
})

test('[MQTT-3.8.4-1] a filter deeper than limits.maxTopicLevels is answered (SUBACK 0x80), the others granted', async () => {
  const broker = await startBroker({ limits: { maxTopicLevels: 6 } })
  const raw = await rawConnected(broker.mqttUrl)
  const deep = 'a/b/c/d/e/f/g'
  const suback = await rawSubscribe(raw, [{ topic: deep, qos: 1 }, { topic: 'a/b/c/d/e/f', qos: 1 }])
  expect(suback.granted).toEqual([0x80, 1])
  raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [deep] })
  expect(await raw.next('unsuback')).toMatchObject({ messageId: 2 })
})

