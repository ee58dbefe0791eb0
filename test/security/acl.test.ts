import mqtt, { type MqttClient } from 'mqtt'
import type { ISubackPacket } from 'mqtt-packet'
import { describe, expect, onTestFinished, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage, RawClient } from '../helpers/clients.js'
import { tempDir, writeAclFile, writePasswordFile } from './support.js'
import { captureLog } from '../helpers/log-capture.js'

const ACL = [
  '# anonymous clients',
  'topic read public/#',
  'user alice',
  'topic readwrite alice/#',
  'topic deny alice/secret/#',
  'user admin',
  'topic read #',
  'topic read $SYS/#',
  'topic read $DLQ/#',
  'topic write $SYS/#',
  'topic write public/#',
  'topic write alice/#',
  'pattern readwrite devices/%c/#',
  'pattern read users/%u/#',
]

async function aclBroker (): Promise<Awaited<ReturnType<typeof startBroker>>> {
  const dir = tempDir()
  const passwordFile = await writePasswordFile(dir, { alice: 'a', admin: 'b' })
  return startBroker({ security: { passwordFile, aclFile: writeAclFile(dir, ACL) } })
}

const as = (user: 'alice' | 'admin', clientId?: string): { username: string, password: string, clientId?: string } =>
  ({ username: user, password: user === 'alice' ? 'a' : 'b', ...(clientId !== undefined ? { clientId } : {}) })

/** Every topic a client receives, for proving what it never got. */
function recordTopics (client: MqttClient): string[] {
  const topics: string[] = []
  client.on('message', (topic) => { topics.push(topic) })
  return topics
}

/** The SUBACK return codes for one SUBSCRIBE of `topics` at QoS 0 (MQTT.js rejects on any 0x80). */
async function granted (raw: RawClient, topics: string[]): Promise<number[]> {
  raw.send({ cmd: 'subscribe', messageId: 42, subscriptions: topics.map((topic) => ({ topic, qos: 0 })) })
  return (await raw.next<ISubackPacket>('suback')).granted as number[]
}

async function rawAs (url: string, user: 'alice' | 'admin', clientId = `raw-${user}`): Promise<RawClient> {
  const raw = await RawClient.open(url)
  const connack = await raw.connect({ username: user, password: Buffer.from(user === 'alice' ? 'a' : 'b'), clientId })
  expect(connack.returnCode).toBe(0)
  return raw
}

describe('ACL', () => {
  test('a denied QoS 0 publish closes the connection and is not delivered', async () => {
    const broker = await aclBroker()
    const admin = await connectClient(broker.mqttUrl, as('admin'))
    await admin.subscribeAsync('#')
    const seen = recordTopics(admin)
    const raw = await rawAs(broker.mqttUrl, 'alice')
    raw.send({ cmd: 'publish', topic: 'alice/secret/x', payload: 'leak', qos: 0 })
    await raw.closed()
    const alice = await connectClient(broker.mqttUrl, as('alice'))
    const sentinel = nextMessage(admin, 'alice/ok')
    await alice.publishAsync('alice/ok', 'fine')
    await sentinel
    expect(seen).toEqual(['alice/ok'])
  })

  test('a denied QoS 1 publish gets no PUBACK: aedes closes the connection [MQTT-3.3.5-2]', async () => {
    const broker = await aclBroker()
    const raw = await rawAs(broker.mqttUrl, 'alice')
    raw.send({ cmd: 'publish', topic: 'public/news', payload: 'x', qos: 1, messageId: 7 })
    await raw.closed()
    expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
  })

  test('an allowed QoS 1 publish is acknowledged', async () => {
    const broker = await aclBroker()
    const raw = await rawAs(broker.mqttUrl, 'alice')
    raw.send({ cmd: 'publish', topic: 'alice/x', payload: 'x', qos: 1, messageId: 8 })
    expect((await raw.next('puback')).messageId).toBe(8)
  })

  test('a denied subscription gets SUBACK 0x80; the others in the packet are granted', async () => {
    const broker = await aclBroker()
    const raw = await rawAs(broker.mqttUrl, 'alice')
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [
      { topic: 'alice/#', qos: 1 }, { topic: 'alice/secret/#', qos: 1 }, { topic: '#', qos: 0 },
      { topic: '$SYS/#', qos: 0 }, { topic: '$DLQ/#', qos: 0 }, { topic: 'users/alice/+', qos: 1 },
    ] })
    const suback = await raw.next<ISubackPacket>('suback')
    expect(suback.granted).toEqual([1, 128, 128, 128, 128, 1])
  })

  test('deliveries are filtered: live, retained, and partly denied wildcard subscriptions', async () => {
    const broker = await aclBroker()
    await broker.publish({ topic: 'alice/secret/r', payload: 'hidden', retain: true, qos: 1 })
    await broker.publish({ topic: 'alice/open/r', payload: 'shown', retain: true, qos: 1 })
    const alice = await connectClient(broker.mqttUrl, as('alice'))
    const seen = recordTopics(alice)
    const retained = nextMessage(alice, 'alice/open/r')
    await alice.subscribeAsync('alice/#', { qos: 1 })
    await retained
    await broker.publish({ topic: 'alice/secret/live', payload: 'hidden', qos: 1 })
    const sentinel = nextMessage(alice, 'alice/sentinel')
    await broker.publish({ topic: 'alice/sentinel', payload: 'end', qos: 1 })
    await sentinel
    expect(seen.sort()).toEqual(['alice/open/r', 'alice/sentinel'])
  })

  test('messages queued for an offline persistent session are filtered when it returns', async () => {
    const broker = await aclBroker()
    const first = await connectClient(broker.mqttUrl, { ...as('alice', 'alice-persistent'), clean: false })
    await first.subscribeAsync('alice/#', { qos: 1 })
    await first.endAsync()
    await broker.publish({ topic: 'alice/secret/queued', payload: 'hidden', qos: 1 })
    await broker.publish({ topic: 'alice/queued', payload: 'shown', qos: 1 })
    // listen before CONNECT: queued messages follow the CONNACK at once
    const back = mqtt.connect(broker.mqttUrl, { ...as('alice', 'alice-persistent'), clean: false, reconnectPeriod: 0 })
    onTestFinished(() => back.endAsync(true))
    const seen = recordTopics(back)
    await nextMessage(back, 'alice/queued')
    const sentinel = nextMessage(back, 'alice/sentinel')
    await broker.publish({ topic: 'alice/sentinel', payload: 'end', qos: 1 })
    await sentinel
    expect(seen).toEqual(['alice/queued', 'alice/sentinel'])
  })

  test('$SYS and $DLQ are readable only where granted; clients never publish to $SYS', async () => {
    const broker = await aclBroker()
    const admin = await connectClient(broker.mqttUrl, as('admin'))
    await admin.subscribeAsync(['$SYS/midge/#', '$DLQ/#'])
    const sys = nextMessage(admin, '$SYS/midge/test')
    await broker.publish({ topic: '$SYS/midge/test', payload: '1' })
    await sys
    const dlq = nextMessage(admin, '$DLQ/a')
    await broker.publish({ topic: '$DLQ/a', payload: '{}' })
    await dlq
    // the ACL grants admin `write $SYS/#`, the broker still refuses it
    const raw = await rawAs(broker.mqttUrl, 'admin', 'raw-admin-2')
    raw.send({ cmd: 'publish', topic: '$SYS/midge/test', payload: 'forged', qos: 0 })
    await raw.closed()
  })

  test('patterns: %c grants a client its own device topics, %u its user topics', async () => {
    const broker = await aclBroker()
    const probe = await rawAs(broker.mqttUrl, 'alice', 'dev-1')
    expect(await granted(probe, ['devices/dev-1/#', 'devices/dev-2/#', 'users/alice/#', 'users/admin/#'])).toEqual([0, 128, 0, 128])
    probe.socket.destroy()
    const alice = await connectClient(broker.mqttUrl, as('alice', 'dev-1'))
    await alice.subscribeAsync('devices/dev-1/#')
    const own = nextMessage(alice, 'devices/dev-1/t')
    await alice.publishAsync('devices/dev-1/t', 'x')
    await own
    const raw = await rawAs(broker.mqttUrl, 'alice', 'dev-3')
    raw.send({ cmd: 'publish', topic: 'devices/dev-1/t', payload: 'spoof', qos: 0 })
    await raw.closed()
  })

  test('anonymous clients get the rules before the first user line', async () => {
    const broker = await aclBroker()
    const probe = await RawClient.open(broker.mqttUrl)
    await probe.connect()
    expect(await granted(probe, ['public/#', 'alice/#'])).toEqual([0, 128])
    const anon = await connectClient(broker.mqttUrl)
    await anon.subscribeAsync('public/#')
    const got = nextMessage(anon, 'public/news')
    const admin = await connectClient(broker.mqttUrl, as('admin'))
    await admin.publishAsync('public/news', 'hi')
    expect((await got).payload.toString()).toBe('hi')
  })

  test('a CONNECT whose will is to a topic the client may not publish to is refused (0x05), as Mosquitto does; nothing is published', async () => {
    const broker = await aclBroker()
    const admin = await connectClient(broker.mqttUrl, as('admin'))
    await admin.subscribeAsync('#')
    const seen = recordTopics(admin)
    const raw = await RawClient.open(broker.mqttUrl)
    const connack = await raw.connect({ username: 'alice', password: Buffer.from('a'), will: { topic: 'alice/secret/will', payload: Buffer.from('w'), qos: 0, retain: false } })
    // checked at CONNECT: a will stored unchecked was published unchecked after a crash
    expect(connack.returnCode).toBe(5)
    await raw.closed()
    const sentinel = nextMessage(admin, 'alice/after')
    const alice = await connectClient(broker.mqttUrl, as('alice'))
    await alice.publishAsync('alice/after', 'x')
    await sentinel
    expect(seen).toEqual(['alice/after'])
  })

  test('a will to $SYS is refused at CONNECT even without an ACL file', async () => {
    const broker = await startBroker()
    const raw = await RawClient.open(broker.mqttUrl)
    const connack = await raw.connect({ will: { topic: '$SYS/broker/fake', payload: Buffer.from('forged'), qos: 1, retain: true } })
    expect(connack.returnCode).toBe(5)
  })

  test('without an ACL file everything is allowed except publishing to $SYS', async () => {
    const broker = await startBroker()
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect()
    expect(await granted(raw, ['#', '$SYS/#'])).toEqual([0, 0])
    raw.send({ cmd: 'publish', topic: '$SYS/x', payload: 'forged', qos: 0 })
    await raw.closed()
  })
})


describe('ACL refusals are logged for the operator', () => {
  test('a denied SUBSCRIBE and a denied PUBLISH log who, from where and the topic at info', async () => {
    const capture = captureLog()
    const broker = await startBroker({ logLevel: 'info', security: { aclFile: writeAclFile(tempDir(), ['topic read public/#']) } }, { logger: capture.log })
    const sub = await RawClient.open(broker.mqttUrl)
    await sub.connect({ clientId: 'dev-9' })
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'private/x', qos: 0 }] })
    expect((await sub.next<ISubackPacket>('suback')).granted).toEqual([128])
    expect(await capture.waitFor('subscribe denied')).toMatchObject({ level: 30, clientId: 'dev-9', remoteAddress: '127.0.0.1', filter: 'private/x' })
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect({ clientId: 'dev-10' })
    raw.send({ cmd: 'publish', topic: 'public/news', payload: 'x', qos: 0 })
    await raw.closed()
    expect(await capture.waitFor('publish denied')).toMatchObject({ level: 30, clientId: 'dev-10', topic: 'public/news' })
  })
})
