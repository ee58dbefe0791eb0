/**
 * MQTT 3.1.1 §3.1.2.4 Clean Session, §3.2.2.2 Session Present and §4.1 / §4.4
 * session state (Paho "offline message queueing", "redelivery on reconnect"
 * and "session present" flows).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, onTestFinished, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { type Connack, type PublishIn, rawConnected, rawReceivedUntil, rawSubscribe, serverDisconnect, uniqueId } from './support.js'

type TestBroker = Awaited<ReturnType<typeof startBroker>>

/** Connect `clientId` raw and return the client with its CONNACK. */
async function reconnect (broker: TestBroker, clientId: string, clean: boolean): Promise<{ raw: RawClient, connack: Connack }> {
  const raw = await RawClient.open(broker.mqttUrl)
  const connack = await raw.connect({ clientId, clean })
  return { raw, connack }
}

/** DISCONNECT and wait until the broker has let the session go. */
async function leave (broker: TestBroker, raw: RawClient, clientId: string): Promise<void> {
  const gone = serverDisconnect(broker, clientId)
  raw.send({ cmd: 'disconnect' })
  await gone
}

test('[MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3] Session Present follows the stored session', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  let c = await reconnect(broker, id, true)
  expect(c.connack.sessionPresent).toBe(false) // clean session: always 0
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(false) // no session yet
  await rawSubscribe(c.raw, [{ topic: 'sp/#', qos: 1 }])
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(true)
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, true)
  expect(c.connack.sessionPresent).toBe(false) // clean session discards it [MQTT-3.1.2-6]
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(false)
})

test('[MQTT-3.2.2-2] a session without subscriptions still counts: Session Present 1 on reconnect', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  let c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(false)
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(true)
})

test('[MQTT-3.1.2-4] a resumed session keeps its subscriptions', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  let c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'resume/#', qos: 1 }])
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('resume/a', 'x', { qos: 1 })
  expect(await c.raw.next('publish')).toMatchObject({ topic: 'resume/a', qos: 1 })
})

test('[MQTT-3.1.2-5] [MQTT-4.4.0-1] QoS 1 and 2 messages are queued while offline, QoS 0 may be (Paho offline queueing)', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: '+/+', qos: 2 }])
  await leave(broker, c.raw, id)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('TopicA/B', 'qos 0', { qos: 0 })
  await pub.publishAsync('Topic/C', 'qos 1', { qos: 1 })
  await pub.publishAsync('TopicA/C', 'qos 2', { qos: 2 })
  await pub.publishAsync('offq/sentinel', 'end', { qos: 1 })
  const raw = await RawClient.open(broker.mqttUrl)
  const got = rawReceivedUntil(raw, 'offq/sentinel')
  await raw.connect({ clientId: id, clean: false })
  const messages = await got
  expect(messages.map((p) => [p.topic, p.qos])).toEqual([['Topic/C', 1], ['TopicA/C', 2]])
})

test('[MQTT-3.8.4-6] a queued QoS 2 message is delivered at the granted QoS 1 after reconnect', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'qd/+', qos: 1 }])
  await leave(broker, c.raw, id)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('qd/a', 'x', { qos: 2 })
  const again = await reconnect(broker, id, false)
  const p = await again.raw.next('publish') as PublishIn
  expect(p).toMatchObject({ topic: 'qd/a', qos: 1, dup: false })
  again.raw.send({ cmd: 'puback', messageId: p.messageId })
  // Acknowledged at QoS 1: not sent again on the next reconnect.
  await leave(broker, again.raw, id)
  await pub.publishAsync('qd/sentinel', 'end', { qos: 1 })
  const third = await RawClient.open(broker.mqttUrl)
  const rest = rawReceivedUntil(third, 'qd/sentinel')
  await third.connect({ clientId: id, clean: false })
  expect(await rest).toEqual([])
})

test('[MQTT-3.2.0-1] CONNACK is the first packet even when queued messages wait for the session', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'first/#', qos: 1 }])
  await leave(broker, c.raw, id)
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 5; i++) await pub.publishAsync('first/a', String(i), { qos: 1 })
  const raw = await RawClient.open(broker.mqttUrl)
  const order: string[] = []
  raw.socket.on('data', (chunk: Buffer) => { if (order.length === 0) order.push((chunk[0]! >> 4) === 2 ? 'connack' : 'other') })
  await raw.connect({ clientId: id, clean: false })
  for (let i = 0; i < 5; i++) await raw.next('publish')
  expect(order).toEqual(['connack'])
})

test('[MQTT-3.1.2-6] clean session 1 discards the previous session: no subscriptions, no queued messages', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  let c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'discard/#', qos: 1 }])
  await leave(broker, c.raw, id)
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('discard/queued', 'x', { qos: 1 })
  c = await reconnect(broker, id, true)
  await rawSubscribe(c.raw, [{ topic: 'discard/sentinel', qos: 1 }])
  const got = rawReceivedUntil(c.raw, 'discard/sentinel')
  await pub.publishAsync('discard/live', 'x', { qos: 1 })
  await pub.publishAsync('discard/sentinel', 'end', { qos: 1 })
  expect(await got).toEqual([])
})

test('[MQTT-3.1.2-6] on the durable store, a clean session that leaves at once still discards the previous queue: nothing of it reaches the next session', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-conformance-'))
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  const broker = await startBroker({ dataDir, sessions: { store: 'nedb' } })
  const id = uniqueId()
  let c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'wipe/#', qos: 2 }])
  await leave(broker, c.raw, id)
  const pub = await connectClient(broker.mqttUrl)
  // QoS 2: each entry aedes clears on a clean reconnect costs it a store write
  await Promise.all(Array.from({ length: 300 }, (_, i) => pub.publishAsync('wipe/old', `old-${i}`, { qos: 2 })))
  c = await reconnect(broker, id, true)
  await leave(broker, c.raw, id)
  c = await reconnect(broker, id, false)
  expect(c.connack.sessionPresent).toBe(false)
  await rawSubscribe(c.raw, [{ topic: 'wipe/sentinel', qos: 1 }])
  const got = rawReceivedUntil(c.raw, 'wipe/sentinel')
  await pub.publishAsync('wipe/sentinel', 'end', { qos: 1 })
  expect(await got).toEqual([])
})

test('[MQTT-4.4.0-1] unacknowledged QoS 1 and QoS 2 deliveries are redelivered on reconnect (Paho redelivery test)', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'TopicA/#', qos: 2 }])
  first.send({ cmd: 'publish', topic: 'TopicA/B', payload: '', qos: 1, messageId: 1 })
  first.send({ cmd: 'publish', topic: 'TopicA/C', payload: '', qos: 2, messageId: 2 })
  await first.next('puback')
  await first.next('pubrec')
  first.send({ cmd: 'pubrel', messageId: 2 })
  await first.next('pubcomp')
  // Both deliveries reach the client, which acknowledges neither.
  const sent = [await first.next('publish') as PublishIn, await first.next('publish') as PublishIn]
  const gone = serverDisconnect(broker, id)
  first.socket.destroy()
  await gone
  const again = await RawClient.open(broker.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  const a = await again.next('publish') as PublishIn
  const b = await again.next('publish') as PublishIn
  // Re-sent in the order first sent [MQTT-4.6.0-1], flagged DUP [MQTT-3.3.1-1].
  expect([a, b].map((p) => [p.topic, p.qos, p.messageId, p.dup])).toEqual(sent.map((p) => [p.topic, p.qos, p.messageId, true]))
  expect([a.topic, b.topic].sort()).toEqual(['TopicA/B', 'TopicA/C'])
})

test('[MQTT-3.1.2-4] [MQTT-3.1.4-2] a takeover keeps the persistent session', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'take/#', qos: 1 }])
  const second = await RawClient.open(broker.mqttUrl)
  const connack = await second.connect({ clientId: id, clean: false })
  expect(connack.sessionPresent).toBe(true)
  await first.closed()
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('take/a', 'x', { qos: 1 })
  expect(await second.next('publish')).toMatchObject({ topic: 'take/a' })
})

// The same session rules on the file-backed store the persistent-sessions plugin ships.
test('[MQTT-3.2.2-2] [MQTT-3.1.2-5] [MQTT-3.3.1-1] Session Present, offline queueing and DUP hold on the nedb store too', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-conformance-'))
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  const broker = await startBroker({ dataDir, sessions: { store: 'nedb' } })
  const empty = uniqueId()
  let c = await reconnect(broker, empty, false)
  await leave(broker, c.raw, empty)
  c = await reconnect(broker, empty, false)
  expect(c.connack.sessionPresent).toBe(true)
  const id = uniqueId()
  c = await reconnect(broker, id, false)
  await rawSubscribe(c.raw, [{ topic: 'nedb/#', qos: 1 }])
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('nedb/a', 'sent', { qos: 2 })
  const sent = await c.raw.next('publish') as PublishIn
  const gone = serverDisconnect(broker, id)
  c.raw.socket.destroy()
  await gone
  await pub.publishAsync('nedb/b', 'queued', { qos: 2 })
  const again = await reconnect(broker, id, false)
  expect(again.connack.sessionPresent).toBe(true)
  const a = await again.raw.next('publish') as PublishIn
  const b = await again.raw.next('publish') as PublishIn
  expect([a, b].map((p) => [p.topic, p.qos, p.dup])).toEqual([['nedb/a', 1, true], ['nedb/b', 1, false]])
  expect(a.messageId).toBe(sent.messageId)
})
