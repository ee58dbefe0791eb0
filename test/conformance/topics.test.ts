/**
 * MQTT 3.1.1 §4.7 topic names and filters, and the §1.5.3 UTF-8 rules for
 * them (Paho wildcard topics and "$ topics" tests included).
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { closedBy, publishBytes, rawConnected, rawReceivedUntil, rawSubscribe, receivedUntil, serverDisconnect, subscribeBytes, uniqueId } from './support.js'

const TOPICS = ['TopicA', 'TopicA/B', 'Topic/C', 'TopicA/C', '/TopicA']

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcard filters match as specified (Paho topic set)', async () => {
  const broker = await startBroker()
  const expected: Record<string, string[]> = {
    'TopicA/+': ['TopicA/B', 'TopicA/C'],
    '+/C': ['Topic/C', 'TopicA/C'],
    '#': TOPICS,
    '/#': ['/TopicA'],
    '/+': ['/TopicA'],
    '+/+': ['TopicA/B', 'Topic/C', 'TopicA/C', '/TopicA'],
    'TopicA/#': ['TopicA', 'TopicA/B', 'TopicA/C'], // `#` also matches the parent level
  }
  const pub = await connectClient(broker.mqttUrl)
  for (const [filter, topics] of Object.entries(expected)) {
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync([filter, 'wild/sentinel'])
    const got = receivedUntil(sub, 'wild/sentinel')
    for (const topic of TOPICS) await pub.publishAsync(topic, topic)
    await pub.publishAsync('wild/sentinel', 'end')
    expect((await got).map((m) => m.topic), filter).toEqual(topics)
    await sub.endAsync()
  }
})

test('[MQTT-4.7.1-3] `+` matches an empty level', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync(['e/+/c', 'e/sentinel'])
  const got = receivedUntil(sub, 'e/sentinel')
  await sub.publishAsync('e//c', 'empty level')
  await sub.publishAsync('e/sentinel', 'end')
  expect((await got).map((m) => m.topic)).toEqual(['e//c'])
})

test('[MQTT-4.7.1-2] a `#` that is not a whole last level closes the connection', async () => {
  const broker = await startBroker()
  for (const filter of ['a#', 'a/#/b', '#/a', 'a/b#']) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.writeRaw(subscribeBytes([{ topic: filter, options: 0 }]))
    expect(await closedBy(raw), filter).toBe(true)
    expect(raw.packets.filter((p) => p.cmd === 'suback'), filter).toEqual([])
  }
})

test('[MQTT-4.7.1-3] a `+` that is not a whole level closes the connection', async () => {
  const broker = await startBroker()
  for (const filter of ['+a', 'a+/b', 'a/b+', 'a/+b/c']) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.writeRaw(subscribeBytes([{ topic: filter, options: 0 }]))
    expect(await closedBy(raw), filter).toBe(true)
  }
})

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-2] a malformed filter in UNSUBSCRIBE closes the connection without UNSUBACK', async () => {
  const broker = await startBroker()
  for (const filter of ['a#', 'a/#/b', '+a', 'a/b+', 'a\u0000b', '\u0000midge/session']) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.send({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [filter] })
    expect(await closedBy(raw), JSON.stringify(filter)).toBe(true)
    expect(raw.packets.filter((p) => p.cmd === 'unsuback'), JSON.stringify(filter)).toEqual([])
  }
})

test('[MQTT-4.7.1-1] [MQTT-3.3.2-2] a topic name with a wildcard closes the connection', async () => {
  const broker = await startBroker()
  for (const topic of ['a/+', 'a/#', '+']) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.send({ cmd: 'publish', topic, payload: 'x', qos: 0 })
    expect(await closedBy(raw), topic).toBe(true)
  }
})

test('[MQTT-4.7.3-1] an empty topic name or topic filter closes the connection', async () => {
  const broker = await startBroker()
  const pub = await rawConnected(broker.mqttUrl)
  pub.writeRaw(publishBytes(Buffer.alloc(0), Buffer.from('x')))
  expect(await closedBy(pub)).toBe(true)
  const sub = await rawConnected(broker.mqttUrl)
  sub.writeRaw(subscribeBytes([{ topic: '', options: 0 }]))
  expect(await closedBy(sub)).toBe(true)
  const unsub = await rawConnected(broker.mqttUrl)
  unsub.send({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [''] })
  expect(await closedBy(unsub)).toBe(true)
})

test('[MQTT-4.7.3-2] [MQTT-1.5.3-2] U+0000 in a topic name or filter closes the connection', async () => {
  const broker = await startBroker()
  const pub = await rawConnected(broker.mqttUrl)
  pub.writeRaw(publishBytes(Buffer.from('a\u0000b'), Buffer.from('x')))
  expect(await closedBy(pub)).toBe(true)
  const sub = await rawConnected(broker.mqttUrl)
  sub.writeRaw(subscribeBytes([{ topic: 'a\u0000b', options: 0 }]))
  expect(await closedBy(sub)).toBe(true)
})

test('[MQTT-1.5.3-1] ill-formed UTF-8 in a topic name or filter closes the connection', async () => {
  const broker = await startBroker()
  const cases = [Buffer.from([0x61, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf0, 0x9f, 0x98, 0x61])]
  for (const bytes of cases) {
    const pub = await rawConnected(broker.mqttUrl)
    pub.writeRaw(publishBytes(bytes, Buffer.from('x'), 1, 5))
    expect(await closedBy(pub)).toBe(true)
    expect(pub.packets.filter((p) => p.cmd === 'puback')).toEqual([])
    const sub = await rawConnected(broker.mqttUrl)
    sub.writeRaw(subscribeBytes([{ topic: bytes, options: 0 }]))
    expect(await closedBy(sub)).toBe(true)
  }
})

test('[MQTT-1.5.3-3] [MQTT-4.7.3-4] topics are not normalised: case, BOM and trailing slash all count', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  const bom = '\ufeffbom'
  await rawSubscribe(raw, [{ topic: 'ACCOUNTS', qos: 0 }, { topic: bom, qos: 0 }, { topic: 'norm/sentinel', qos: 0 }])
  const got = rawReceivedUntil(raw, 'norm/sentinel')
  const pub = await connectClient(broker.mqttUrl)
  for (const topic of ['Accounts', 'ACCOUNTS/', 'ACCOUNTS', 'bom', bom]) await pub.publishAsync(topic, 'x')
  await pub.publishAsync('norm/sentinel', 'end')
  expect((await got).map((p) => p.topic)).toEqual(['ACCOUNTS', bom])
})

test('[MQTT-4.7.2-1] `#` and `+/…` do not match topics starting with `$` (Paho $ topics test)', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync(['#', '+/+', '+/TopicA/B'], { qos: 2 })
  const got = receivedUntil(sub, 'dollar/sentinel')
  await sub.publishAsync('$TopicA/B', 'x', { qos: 1 })
  await sub.publishAsync('$x', 'x', { qos: 2 })
  await sub.publishAsync('dollar/sentinel', 'end', { qos: 1 })
  // `+/+` matches the sentinel too: one copy per client, whatever the overlap.
  expect((await got).map((m) => m.topic)).toEqual([])
})

test('[MQTT-4.7.2-1] a filter starting with `$` matches `$` topics', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync(['$app/#', 'dollar2/sentinel'])
  const got = receivedUntil(sub, 'dollar2/sentinel')
  await sub.publishAsync('$app/x', 'x')
  await sub.publishAsync('dollar2/sentinel', 'end')
  expect((await got).map((m) => m.topic)).toEqual(['$app/x'])
})

test('[MQTT-4.7.2-1] `$` topics are not queued for an offline session through `#` either', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: '#', qos: 1 }])
  const gone = serverDisconnect(broker, id)
  first.send({ cmd: 'disconnect' })
  await gone
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('$offline/a', 'x', { qos: 1 })
  await pub.publishAsync('offline/sentinel', 'end', { qos: 1 })
  const again = await RawClient.open(broker.mqttUrl)
  const got = rawReceivedUntil(again, 'offline/sentinel')
  await again.connect({ clientId: id, clean: false })
  expect((await got).map((p) => p.topic)).toEqual([])
})

// aedes sends a `#` SUBSCRIBE the retained `$` messages too, and checks them against the client's
// filters only when they go out: by then an UNSUBSCRIBE, or the client's close, has removed `#`.
test('[MQTT-4.7.2-1] no retained `$` message reaches a client that subscribed `#` and unsubscribed at once', async () => {
  const broker = await startBroker()
  for (let i = 0; i < 50; i++) await broker.publish({ topic: `$app/state/${i}`, payload: 'up', retain: true })
  const delivered: string[] = []
  broker.on('deliver', (message) => { delivered.push(message.topic) })
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] })
  raw.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['#'] })
  await rawSubscribe(raw, [{ topic: 'unsub-dollar/sentinel', qos: 0 }], 3)
  const got = rawReceivedUntil(raw, 'unsub-dollar/sentinel')
  await broker.publish({ topic: 'unsub-dollar/sentinel', payload: 'end' })
  expect((await got).map((p) => p.topic)).toEqual([])
  expect(delivered.filter((t) => t.startsWith('$'))).toEqual([])
})
