/**
 * MQTT 3.1.1 §3.3–3.7 PUBLISH and its acknowledgements, §4.3 QoS flows,
 * §4.6 message ordering, and the packet identifier rules of §2.3.1.
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { collectMessages, connectClient, nextMessage, RawClient } from '../helpers/clients.js'
import { closedBy, frame, generate, type PublishIn, rawConnected, rawReceivedUntil, rawSubscribe, receivedUntil, serverDisconnect, uniqueId } from './support.js'

test('[MQTT-3.3.4-1] QoS 1 is answered with PUBACK, QoS 2 with PUBREC, with the same packet identifier', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'publish', topic: 'ack/1', payload: 'x', qos: 1, messageId: 11 })
  expect((await raw.next('puback') as { messageId: number }).messageId).toBe(11)
  raw.send({ cmd: 'publish', topic: 'ack/2', payload: 'x', qos: 2, messageId: 12 })
  expect((await raw.next('pubrec') as { messageId: number }).messageId).toBe(12)
  raw.send({ cmd: 'pubrel', messageId: 12 })
  expect((await raw.next('pubcomp') as { messageId: number }).messageId).toBe(12)
})

test('[MQTT-3.8.4-6] a QoS 2 message reaches a QoS 1 wildcard subscriber at QoS 1, a QoS 0 one at QoS 0', async () => {
  const broker = await startBroker()
  const one = await connectClient(broker.mqttUrl)
  const zero = await connectClient(broker.mqttUrl)
  await one.subscribeAsync('down/+', { qos: 1 })
  await zero.subscribeAsync('down/#', { qos: 0 })
  const atOne = nextMessage(one)
  const atZero = nextMessage(zero)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('down/x', 'q2', { qos: 2 })
  expect((await atOne).packet.qos).toBe(1)
  expect((await atZero).packet.qos).toBe(0)
})

test('[MQTT-3.8.4-6] a QoS 1 message to a QoS 2 subscriber stays QoS 1 (never upgraded)', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('up/#', { qos: 2 })
  const got = nextMessage(sub)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('up/x', 'q1', { qos: 1 })
  expect((await got).packet.qos).toBe(1)
})

test('[MQTT-3.3.5-1] overlapping subscriptions: one message at the highest granted QoS (Paho overlapping test)', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync({ 'TopicA/#': { qos: 2 }, 'TopicA/+': { qos: 1 } })
  const got = receivedUntil(sub, 'TopicA/sentinel')
  await sub.publishAsync('TopicA/C', 'overlapping topic filters', { qos: 2 })
  await sub.publishAsync('TopicA/sentinel', 'end', { qos: 2 })
  const messages = await got
  expect(messages).toHaveLength(1)
  expect(messages[0]?.packet.qos).toBe(2)
})

// aedes 1.2 routes one copy per client, through the first subscription its emitter calls. A QoS 0
// subscription delivers through `deliver0`, which forces QoS 0 after `authorizeForward`: the adapter
// leaves such a message to the client's QoS 1/2 subscription instead.
test('[MQTT-3.3.5-1] overlapping `#` QoS 0 and `ov/b` QoS 2 deliver at QoS 2, in either order', async () => {
  const broker = await startBroker()
  for (const filters of [[{ topic: '#', qos: 0 }, { topic: 'ov/b', qos: 2 }], [{ topic: 'ov/b', qos: 2 }, { topic: '#', qos: 0 }]]) {
    const raw = await rawConnected(broker.mqttUrl)
    await rawSubscribe(raw, filters as Array<{ topic: string, qos: 0 | 1 | 2 }>)
    const pub = await connectClient(broker.mqttUrl)
    const got = rawReceivedUntil(raw, 'ov/sentinel')
    await pub.publishAsync('ov/b', 'x', { qos: 2 })
    await pub.publishAsync('ov/sentinel', 'x')
    expect((await got).map((p) => p.qos)).toEqual([2])
    raw.socket.destroy()
    await pub.endAsync()
  }
})

// A QoS 0 copy counted as QoS 1/2 was never acknowledged: after mqtt.maxInflight (20) of them the
// window sent nothing more at QoS 1/2, to any of the client's subscriptions.
test('overlapping QoS 0 and QoS 2 subscriptions: 25 commands and a later QoS 1 message all arrive (the inflight window is not used up)', async () => {
  const broker = await startBroker()
  const device = await connectClient(broker.mqttUrl, { clientId: 'device-42' })
  await device.subscribeAsync({ 'dev/42/#': { qos: 0 }, 'dev/42/cmd': { qos: 2 }, 'other/#': { qos: 1 }, 'x/exact': { qos: 0 }, 'x/#': { qos: 1 } })
  const got = receivedUntil(device, 'other/end')
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 25; i++) await pub.publishAsync('dev/42/cmd', `cmd ${i}`, { qos: 2 })
  for (let i = 0; i < 25; i++) await pub.publishAsync('x/exact', `x ${i}`, { qos: 1 })
  await pub.publishAsync('other/q1', 'still flowing', { qos: 1 })
  await pub.publishAsync('other/end', 'end', { qos: 1 })
  const messages = await got
  expect(messages.filter((m) => m.topic === 'dev/42/cmd').map((m) => m.packet.qos)).toEqual(Array(25).fill(2))
  expect(messages.filter((m) => m.topic === 'x/exact').map((m) => m.packet.qos)).toEqual(Array(25).fill(1))
  expect(messages.filter((m) => m.topic === 'other/q1').map((m) => m.packet.qos)).toEqual([1])
})

// aedes lowers every copy to the QoS of the topic's own filter (spec-overlap.ts).
test('[MQTT-3.3.5-1] overlapping `ov/b` QoS 1 and `#` QoS 2 deliver at QoS 2', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  await rawSubscribe(raw, [{ topic: 'ov/b', qos: 1 }, { topic: '#', qos: 2 }])
  const pub = await connectClient(broker.mqttUrl)
  const got = rawReceivedUntil(raw, 'ov/sentinel')
  await pub.publishAsync('ov/b', 'x', { qos: 2 })
  await pub.publishAsync('ov/sentinel', 'x')
  expect((await got).map((p) => p.qos)).toEqual([2])
})

test('[MQTT-3.3.1-3] the DUP flag is not copied from the incoming PUBLISH', async () => {
  const broker = await startBroker()
  const sub = await rawConnected(broker.mqttUrl)
  await rawSubscribe(sub, [{ topic: 'dup/#', qos: 1 }])
  const pub = await rawConnected(broker.mqttUrl)
  pub.send({ cmd: 'publish', topic: 'dup/a', payload: 'retry', qos: 1, messageId: 3, dup: true })
  const got = await sub.next('publish') as PublishIn
  expect(got.qos).toBe(1)
  expect(got.dup).toBe(false)
})

test('[MQTT-3.3.1-2] a QoS 0 delivery has DUP 0 even when the publisher set DUP', async () => {
  const broker = await startBroker()
  const sub = await rawConnected(broker.mqttUrl)
  await rawSubscribe(sub, [{ topic: 'dup0/#', qos: 0 }])
  const pub = await rawConnected(broker.mqttUrl)
  pub.send({ cmd: 'publish', topic: 'dup0/a', payload: 'retry', qos: 1, messageId: 3, dup: true })
  const got = await sub.next('publish') as PublishIn
  expect(got.qos).toBe(0)
  expect(got.dup).toBe(false)
})

test('[MQTT-3.3.1-1] [MQTT-4.4.0-1] an unacknowledged message is re-sent on reconnect with DUP 1 and the same packet id', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'redeliver/#', qos: 1 }])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('redeliver/a', 'one', { qos: 1 })
  const sent = await first.next('publish') as PublishIn
  expect(sent.dup).toBe(false)
  const gone = serverDisconnect(broker, id)
  first.socket.destroy() // no PUBACK
  await gone
  await pub.publishAsync('redeliver/b', 'queued', { qos: 1 })
  const again = await RawClient.open(broker.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  const resent = await again.next('publish') as PublishIn
  expect(resent).toMatchObject({ topic: 'redeliver/a', messageId: sent.messageId, dup: true, qos: 1 })
  const queued = await again.next('publish') as PublishIn
  expect(queued).toMatchObject({ topic: 'redeliver/b', dup: false }) // first attempt for this one
})

test('[MQTT-4.3.3-1] [MQTT-4.4.0-1] a PUBREL not completed before a disconnect is re-sent on reconnect, not the PUBLISH', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'pubrel/#', qos: 2 }])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('pubrel/a', 'x', { qos: 2 })
  const sent = await first.next('publish') as PublishIn
  first.send({ cmd: 'pubrec', messageId: sent.messageId })
  expect((await first.next('pubrel') as { messageId: number }).messageId).toBe(sent.messageId)
  const gone = serverDisconnect(broker, id)
  first.socket.destroy() // no PUBCOMP
  await gone
  const again = await RawClient.open(broker.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  expect((await again.next('pubrel') as { messageId: number }).messageId).toBe(sent.messageId)
  again.send({ cmd: 'pubcomp', messageId: sent.messageId })
  again.send({ cmd: 'pingreq' })
  await again.next('pingresp')
  expect(again.packets.filter((p) => p.cmd === 'publish')).toEqual([])
})

test('[MQTT-4.3.2-2] after PUBACK the same packet identifier starts a new QoS 1 message', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('reuse/#', { qos: 1 })
  const got = collectMessages(sub, 2)
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'publish', topic: 'reuse/a', payload: '1', qos: 1, messageId: 9 })
  await raw.next('puback')
  raw.send({ cmd: 'publish', topic: 'reuse/a', payload: '2', qos: 1, messageId: 9 })
  await raw.next('puback')
  expect((await got).map((m) => m.payload.toString())).toEqual(['1', '2'])
})

test('[MQTT-4.3.3-2] QoS 2 is delivered exactly once: a DUP re-send before PUBREL gets PUBREC and is not forwarded again', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('once/#', { qos: 2 })
  const got = receivedUntil(sub, 'once/sentinel')
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'publish', topic: 'once/a', payload: 'first', qos: 2, messageId: 7 })
  await raw.next('pubrec')
  raw.send({ cmd: 'publish', topic: 'once/a', payload: 'first', qos: 2, messageId: 7, dup: true })
  expect((await raw.next('pubrec') as { messageId: number }).messageId).toBe(7)
  raw.send({ cmd: 'pubrel', messageId: 7 })
  await raw.next('pubcomp')
  // After PUBCOMP the identifier is free: the same id is a new message.
  raw.send({ cmd: 'publish', topic: 'once/a', payload: 'second', qos: 2, messageId: 7 })
  await raw.next('pubrec')
  raw.send({ cmd: 'pubrel', messageId: 7 })
  await raw.next('pubcomp')
  raw.send({ cmd: 'publish', topic: 'once/sentinel', payload: 'end', qos: 0 })
  expect((await got).map((m) => m.payload.toString())).toEqual(['first', 'second'])
})

test.each([{ session: 'clean', clean: true }, { session: 'persistent', clean: false }])('[MQTT-4.3.3-2] a QoS 2 PUBLISH and its DUP re-send arriving in one read are forwarded once ($session session)', async ({ clean }) => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('once1/#', { qos: 2 })
  const got = receivedUntil(sub, 'once1/sentinel')
  const raw = await rawConnected(broker.mqttUrl, { clientId: uniqueId(), clean })
  // aedes handles every packet of one read at once: the re-send was looked up before the first was stored.
  raw.writeRaw(Buffer.concat([
    generate({ cmd: 'publish', topic: 'once1/a', payload: 'first', qos: 2, messageId: 8 }),
    generate({ cmd: 'publish', topic: 'once1/a', payload: 'first', qos: 2, messageId: 8, dup: true }),
  ]))
  await raw.next('pubrec')
  await raw.next('pubrec')
  raw.send({ cmd: 'pubrel', messageId: 8 })
  await raw.next('pubcomp')
  raw.send({ cmd: 'publish', topic: 'once1/sentinel', payload: 'end', qos: 0 })
  expect((await got).map((m) => m.payload.toString())).toEqual(['first'])
})

test('[MQTT-4.3.3-2] a PUBREL for an unknown packet identifier is still answered with PUBCOMP', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'pubrel', messageId: 4242 })
  expect((await raw.next('pubcomp') as { messageId: number }).messageId).toBe(4242)
})

test('[MQTT-3.3.5-2] a PUBLISH the server does not authorize closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'publish', topic: '$SYS/forged', payload: 'x', qos: 1, messageId: 1 })
  expect(await closedBy(raw)).toBe(true)
  expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
})

test('[MQTT-2.3.1-1] a QoS 1 PUBLISH with packet identifier 0 closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0x32, Buffer.from([0, 1, 0x61, 0, 0, 0x78])))
  expect(await closedBy(raw)).toBe(true)
  expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
})

test('[MQTT-3.3.1-4] a PUBLISH with both QoS bits set closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0x36, Buffer.from([0, 1, 0x61, 0, 1, 0x78])))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.6.1-1] [MQTT-2.2.2-2] a PUBREL with wrong fixed-header flags closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.writeRaw(frame(0x60, Buffer.from([0, 1])))
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-4.6.0-5] [MQTT-4.6.0-6] messages on one topic reach a subscriber in publish order, per QoS', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('order/#', { qos: 2 })
  const n = 40
  const got = collectMessages(sub, 3 * n)
  const pub = await connectClient(broker.mqttUrl)
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < n; i++) {
    for (const qos of [0, 1, 2] as const) sends.push(pub.publishAsync(`order/q${qos}`, String(i), { qos }))
  }
  await Promise.all(sends)
  const messages = await got
  for (const qos of [0, 1, 2]) {
    const seq = messages.filter((m) => m.topic === `order/q${qos}`).map((m) => Number(m.payload.toString()))
    expect(seq).toEqual([...Array(n).keys()])
  }
})

test('[MQTT-4.6.0-2] [MQTT-4.6.0-3] PUBACKs and PUBRECs are sent in the order the PUBLISHes arrived', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  const ids = [5, 3, 9, 1, 7]
  raw.writeRaw(Buffer.concat(ids.map((messageId) => generate({ cmd: 'publish', topic: 'acks/1', payload: 'x', qos: 1, messageId }))))
  const pubacks: number[] = []
  for (let i = 0; i < ids.length; i++) pubacks.push((await raw.next('puback') as { messageId: number }).messageId)
  expect(pubacks).toEqual(ids)
  raw.writeRaw(Buffer.concat(ids.map((messageId) => generate({ cmd: 'publish', topic: 'acks/2', payload: 'x', qos: 2, messageId: messageId + 100 }))))
  const pubrecs: number[] = []
  for (let i = 0; i < ids.length; i++) pubrecs.push((await raw.next('pubrec') as { messageId: number }).messageId)
  expect(pubrecs).toEqual(ids.map((id) => id + 100))
})

test('[MQTT-4.6.0-4] PUBRELs are sent in the order the PUBRECs arrived', async () => {
  const broker = await startBroker()
  const sub = await rawConnected(broker.mqttUrl)
  await rawSubscribe(sub, [{ topic: 'rel/#', qos: 2 }])
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 4; i++) await pub.publishAsync('rel/a', String(i), { qos: 2 })
  const publishes: PublishIn[] = []
  for (let i = 0; i < 4; i++) publishes.push(await sub.next('publish') as PublishIn)
  const order = [publishes[2], publishes[0], publishes[3], publishes[1]].map((p) => p!.messageId!)
  sub.writeRaw(Buffer.concat(order.map((messageId) => generate({ cmd: 'pubrec', messageId }))))
  const pubrels: number[] = []
  for (let i = 0; i < order.length; i++) pubrels.push((await sub.next('pubrel') as { messageId: number }).messageId)
  expect(pubrels).toEqual(order)
})

test('[MQTT-4.6.0-1] unacknowledged messages are re-sent in their original order after a reconnect', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'resend/#', qos: 1 }])
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 5; i++) await pub.publishAsync('resend/a', String(i), { qos: 1 })
  for (let i = 0; i < 5; i++) await first.next('publish')
  const gone = serverDisconnect(broker, id)
  first.socket.destroy()
  await gone
  const again = await RawClient.open(broker.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  const resent: string[] = []
  for (let i = 0; i < 5; i++) {
    const p = await again.next('publish') as PublishIn
    expect(p.dup).toBe(true)
    resent.push(p.payload.toString())
  }
  expect(resent).toEqual(['0', '1', '2', '3', '4'])
})

// With the topic's own filter at QoS 0, aedes lowered the copy it sent through the QoS 1 wildcard to
// QoS 0 after writing its packet id to the store, where nothing cleared it: a persistent session got
// those messages again, at QoS 1, on every connect.
test.each(['memory', 'nedb'] as const)('[MQTT-3.3.5-1] a persistent session with `x/exact` QoS 0 and `x/#` QoS 1 (%s store): messages to x/exact arrive once, nothing stays queued for a reconnect', async (store) => {
  const broker = await startBroker({ sessions: { store } })
  const opts = { clientId: 'exact-zero', clean: false, reconnectPeriod: 0 }
  const device = await connectClient(broker.mqttUrl, opts)
  await device.subscribeAsync({ 'x/exact': { qos: 0 }, 'x/#': { qos: 1 } })
  const got = receivedUntil(device, 'x/end')
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 25; i++) await pub.publishAsync('x/exact', `x ${i}`, { qos: 1 })
  await pub.publishAsync('x/end', 'end', { qos: 1 })
  expect((await got).map((m) => m.payload.toString())).toEqual(Array.from({ length: 25 }, (_, i) => `x ${i}`))
  await device.endAsync()
  const back = await connectClient(broker.mqttUrl, opts)
  const after = receivedUntil(back, 'x/end2')
  await pub.publishAsync('x/end2', 'end', { qos: 1 })
  expect((await after).map((m) => m.topic)).toEqual([])
  await Promise.all([back.endAsync(), pub.endAsync()])
})
