/**
 * Retained messages and persistent sessions (§3.3.1.3 RETAIN with §4.3 QoS
 * flows and §4.4 redelivery): aedes 1.2 does not store the retained copies it
 * sends on SUBSCRIBE (moscajs/aedes#1003) and queues a retained publish with
 * the publisher's RETAIN flag (src/core/spec-retained.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, onTestFinished, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { type PublishIn, rawConnected, rawSubscribe, serverDisconnect, uniqueId } from './support.js'

type TestBroker = Awaited<ReturnType<typeof startBroker>>

async function nedbBroker (): Promise<TestBroker> {
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-conformance-'))
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  return startBroker({ dataDir, sessions: { store: 'nedb' } })
}

/** Drop the connection without DISCONNECT and wait until the broker let it go. */
async function drop (broker: TestBroker, raw: RawClient, clientId: string): Promise<void> {
  const gone = serverDisconnect(broker, clientId)
  raw.socket.destroy()
  await gone
}

/** Connected again with the same persistent session. */
async function resume (broker: TestBroker, clientId: string): Promise<RawClient> {
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ clientId, clean: false })
  return raw
}

describe.each([['memory', startBroker], ['nedb', nedbBroker]] as const)('%s store', (_store, start) => {
  test('[MQTT-4.3.3-1] [MQTT-4.4.0-1] a QoS 2 retained message sent on SUBSCRIBE to a persistent session completes its flow, across a reconnect', async () => {
    const broker = await start()
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('rs2/a', 'kept', { qos: 2, retain: true })
    const id = uniqueId()
    const sub = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
    await rawSubscribe(sub, [{ topic: 'rs2/#', qos: 2 }])
    const p = await sub.next('publish') as PublishIn
    expect(p).toMatchObject({ topic: 'rs2/a', qos: 2, retain: true, dup: false })
    // aedes closed the connection here ("no such packet") and the message was lost.
    sub.send({ cmd: 'pubrec', messageId: p.messageId })
    expect(await sub.next('pubrel')).toMatchObject({ messageId: p.messageId })
    await drop(broker, sub, id) // no PUBCOMP: the PUBREL is owed across the reconnect
    const again = await resume(broker, id)
    expect(await again.next('pubrel')).toMatchObject({ messageId: p.messageId })
    again.send({ cmd: 'pubcomp', messageId: p.messageId })
    again.send({ cmd: 'pingreq' })
    await again.next('pingresp')
    expect(again.packets.filter((x) => x.cmd === 'publish')).toEqual([])
  })

  test('[MQTT-4.4.0-1] [MQTT-3.3.1-8] an unacknowledged QoS 1 retained message sent on SUBSCRIBE is re-sent on reconnect, RETAIN 1, DUP 1', async () => {
    const broker = await start()
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('rs1/a', 'kept', { qos: 1, retain: true })
    const id = uniqueId()
    const sub = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
    await rawSubscribe(sub, [{ topic: 'rs1/#', qos: 1 }])
    const first = await sub.next('publish') as PublishIn
    expect(first).toMatchObject({ topic: 'rs1/a', retain: true, dup: false })
    await drop(broker, sub, id) // no PUBACK
    const again = await resume(broker, id)
    expect(await again.next('publish')).toMatchObject({ topic: 'rs1/a', messageId: first.messageId, retain: true, dup: true, qos: 1 })
  })

  test('[MQTT-3.3.1-9] a retained publish queued for a session, or re-sent to it, carries RETAIN 0', async () => {
    const broker = await start()
    const id = uniqueId()
    const sub = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
    await rawSubscribe(sub, [{ topic: 'rs9/#', qos: 1 }])
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('rs9/live', 'x', { qos: 1, retain: true })
    const live = await sub.next('publish') as PublishIn
    expect(live.retain).toBe(false)
    await drop(broker, sub, id) // no PUBACK: re-sent on reconnect
    await pub.publishAsync('rs9/queued', 'y', { qos: 1, retain: true })
    const again = await resume(broker, id)
    const resent = await again.next('publish') as PublishIn
    const queued = await again.next('publish') as PublishIn
    expect([resent, queued].map((p) => [p.topic, p.retain, p.dup])).toEqual([['rs9/live', false, true], ['rs9/queued', false, false]])
  })
})
