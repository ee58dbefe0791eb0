import { expect, test } from 'vitest'
import type { IPublishPacket } from 'mqtt-packet'
import { startBroker } from '../helpers/broker.js'
import { connectClient, RawClient } from '../helpers/clients.js'

/**
 * [MQTT-4.3.3-1] aedes-persistence's memory store took the second PUBREL for
 * the first one: the second message's PUBLISH stayed queued and came again on
 * the next reconnect, a second delivery of a QoS 2 message (an outside probe
 * saw 499 of 2,000 handshakes left incomplete).
 */

/** A persistent QoS 2 subscriber on the memory store with two deliveries PUBREC'd and their PUBRELs received. */
async function twoHandshakesAtPubrel (clientId: string): Promise<{ broker: Awaited<ReturnType<typeof startBroker>>, sub: RawClient, pub: Awaited<ReturnType<typeof connectClient>>, ids: number[] }> {
  const broker = await startBroker({ sessions: { store: 'memory' } })
  const sub = await RawClient.open(broker.mqttUrl)
  await sub.connect({ clientId, clean: false })
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q2/#', qos: 2 }] })
  await sub.next('suback')
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('q2/a', 'one', { qos: 2 })
  await pub.publishAsync('q2/b', 'two', { qos: 2 })
  const ids: number[] = []
  for (let i = 0; i < 2; i++) ids.push((await sub.next<IPublishPacket>('publish')).messageId!)
  for (const messageId of ids) sub.send({ cmd: 'pubrec', messageId })
  for (const messageId of ids) await sub.next('pubrel', (p) => p.messageId === messageId)
  return { broker, sub, pub, ids }
}

test('sessions.store memory: two QoS 2 handshakes in flight both complete; a reconnect sends nothing again', async () => {
  const { broker, sub, pub, ids } = await twoHandshakesAtPubrel('mem-q2')
  for (const messageId of ids) sub.send({ cmd: 'pubcomp', messageId })
  sub.send({ cmd: 'disconnect' })
  await sub.closed()

  const again = await RawClient.open(broker.mqttUrl)
  expect(await again.connect({ clientId: 'mem-q2', clean: false })).toMatchObject({ sessionPresent: true })
  // a message published now comes after whatever the session still held: it must be the first
  await pub.publishAsync('q2/c', 'three', { qos: 2 })
  const next = await Promise.race([again.next<IPublishPacket>('publish'), again.next('pubrel').then((p) => ({ ...p, topic: 'a PUBREL' }))])
  expect(next).toMatchObject({ topic: 'q2/c', dup: false })
})

test('sessions.store memory: PUBRELs owed at a disconnect are sent again on reconnect, and complete', async () => {
  const { broker, sub, pub, ids } = await twoHandshakesAtPubrel('mem-q2-owed')
  sub.socket.destroy() // gone before PUBCOMP

  const back = await RawClient.open(broker.mqttUrl)
  await back.connect({ clientId: 'mem-q2-owed', clean: false })
  for (const messageId of ids) await back.next('pubrel', (p) => p.messageId === messageId) // [MQTT-4.4.0-1]
  for (const messageId of ids) back.send({ cmd: 'pubcomp', messageId })
  await pub.publishAsync('q2/c', 'three', { qos: 2 })
  expect(await back.next<IPublishPacket>('publish')).toMatchObject({ topic: 'q2/c' })
  expect(back.packets.filter((p) => p.cmd === 'publish' || p.cmd === 'pubrel')).toEqual([])
})
