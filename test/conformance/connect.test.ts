/**
 * MQTT 3.1.1 §3.1 CONNECT, §3.2 CONNACK, §3.12 PINGREQ, §3.14 DISCONNECT and
 * the UTF-8 rules of §1.5.3 as they apply to CONNECT fields.
 */
import mqemitter from 'mqemitter'
import mqttPacket from 'mqtt-packet'
import { expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage, RawClient } from '../helpers/clients.js'
import { closedBy, type Connack, connectBytes, generate, rawConnected, receivedUntil, serverDisconnect, uniqueId } from './support.js'

/** Send `bytes` as the first thing on a new connection; the CONNACK, or 'closed' if there was none. */
async function firstAnswer (url: string, bytes: Buffer): Promise<{ connack?: Connack, closed: boolean }> {
  const raw = await RawClient.open(url)
  raw.writeRaw(bytes)
  await raw.closed()
  const connack = raw.packets.find((p) => p.cmd === 'connack') as Connack | undefined
  return { connack, closed: true }
}

async function expectClosedWithoutConnack (url: string, bytes: Buffer): Promise<void> {
  const answer = await firstAnswer(url, bytes)
  expect(answer.connack).toBeUndefined()
}

async function expectRefused (url: string, bytes: Buffer, returnCode: number): Promise<void> {
  const answer = await firstAnswer(url, bytes)
  expect(answer.connack?.returnCode).toBe(returnCode)
  expect(answer.connack?.sessionPresent).toBe(false) // [MQTT-3.2.2-4]
}

test('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, generate({ cmd: 'pingreq' }))
  await expectClosedWithoutConnack(broker.mqttUrl, generate({ cmd: 'publish', topic: 'a', payload: 'x', qos: 0 }))
  // Closed on the first byte, not after waiting for the 69 bytes 'GET ' seems to announce.
  await expectClosedWithoutConnack(broker.mqttUrl, Buffer.from('GET / HTTP/1.1\r\n\r\n'))
})

test('[MQTT-3.1.0-2] a second CONNECT is a protocol violation and closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: uniqueId(), keepalive: 60 })
  expect(await closedBy(raw)).toBe(true)
  expect(raw.packets.filter((p) => p.cmd === 'connack')).toHaveLength(0)
})

test('[MQTT-3.1.2-1] a wrong protocol name closes the connection without CONNACK', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ protocolName: 'hj' }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ protocolName: 'mqtt' }))
})

test('[MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01 and the connection is closed', async () => {
  const broker = await startBroker()
  await expectRefused(broker.mqttUrl, connectBytes({ level: 6 }), 1)
  await expectRefused(broker.mqttUrl, connectBytes({ level: 2 }), 1)
  await expectRefused(broker.mqttUrl, connectBytes({ protocolName: 'MQTT', level: 3 }), 1)
  await expectRefused(broker.mqttUrl, connectBytes({ protocolName: 'MQIsdp', level: 4 }), 1)
  const v5 = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uniqueId(), clean: true, keepalive: 60 } as never)
  await expectRefused(broker.mqttUrl, v5, 1)
})

test('[MQTT-3.1.2-2] MQTT 3.1 (MQIsdp, level 3) is still accepted', async () => {
  const broker = await startBroker()
  const client = await connectClient(broker.mqttUrl, { protocolVersion: 3, protocolId: 'MQIsdp', clientId: 'legacy31' })
  expect(client.connected).toBe(true)
})

test('[MQTT-3.1.2-3] the reserved connect flag set closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x03 }))
})

test('[MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15] will QoS or will retain without the will flag closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x08 }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x20 }))
})

test('[MQTT-3.1.2-14] will QoS 3 closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x04 | 0x18, willTopic: 'w' }))
})

test('[MQTT-3.1.4-1] a CONNECT with bytes after its last field closes the connection without CONNACK', async () => {
  const broker = await startBroker()
  const trailing = (bytes: Buffer): Buffer => {
    const body = Buffer.concat([bytes.subarray(2), Buffer.from([1, 2, 3])])
    return Buffer.concat([Buffer.from([0x10, body.length]), body])
  }
  await expectClosedWithoutConnack(broker.mqttUrl, trailing(connectBytes({ clientId: 'tail' })))
  await expectClosedWithoutConnack(broker.mqttUrl, trailing(connectBytes({ clientId: 'tail-pw', flags: 0xc2, username: 'u', password: Buffer.from('p') })))
  // The same CONNECT without the extra bytes is fine, password included.
  const ok = await RawClient.open(broker.mqttUrl)
  ok.writeRaw(connectBytes({ clientId: 'tail-ok', flags: 0xc2, username: 'u', password: Buffer.from('p') }))
  expect(await ok.next('connack')).toMatchObject({ returnCode: 0 })
})

test('[MQTT-3.1.2-22] a password without a user name closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x40, password: Buffer.from('secret') }))
})

test('[MQTT-3.1.2-18] [MQTT-3.1.2-19] [MQTT-3.1.2-21] user name and password flags are honoured', async () => {
  const broker = await startBroker()
  const answer = await RawClient.open(broker.mqttUrl)
  answer.writeRaw(connectBytes({ flags: 0x02 | 0x80 | 0x40, username: 'u', password: Buffer.from([0, 1, 2]) }))
  expect((await answer.next('connack') as Connack).returnCode).toBe(0)
})

test('[MQTT-3.1.3-10] a will topic with wildcards, empty or with U+0000 closes the connection', async () => {
  const broker = await startBroker()
  for (const willTopic of ['a/#', 'a/+/b', '', 'a\u0000b']) {
    await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x04, willTopic }))
  }
})

test('[MQTT-1.5.3-1] ill-formed UTF-8 in client id, will topic or user name closes the connection', async () => {
  const broker = await startBroker()
  const bad = Buffer.from([0x61, 0xff, 0x62])
  const surrogate = Buffer.from([0xed, 0xa0, 0x80]) // U+D800 encoded: not allowed
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ clientId: bad }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ clientId: surrogate }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x04, willTopic: bad }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x80, username: bad }))
})

test('[MQTT-1.5.3-2] U+0000 in the client id or user name closes the connection', async () => {
  const broker = await startBroker()
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ clientId: 'a\u0000b' }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ flags: 0x02 | 0x80, username: 'u\u0000' }))
})

test('[MQTT-3.1.2-8] [MQTT-3.1.2-9] the will is published when the network connection drops', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('will/drop', { qos: 1 })
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ will: { topic: 'will/drop', payload: Buffer.from('gone'), qos: 1, retain: false } })
  const will = nextMessage(watcher, 'will/drop')
  raw.socket.destroy()
  const got = await will
  expect(got.payload.toString()).toBe('gone')
  expect(got.packet.qos).toBe(1)
})

test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol violation', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('will/violation')
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ will: { topic: 'will/violation', payload: Buffer.from('bad'), qos: 0, retain: false } })
  const will = nextMessage(watcher, 'will/violation')
  raw.send({ cmd: 'publish', topic: 'a/#', payload: 'x', qos: 0 }) // [MQTT-3.3.2-2]
  expect((await will).payload.toString()).toBe('bad')
})

test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] DISCONNECT discards the will', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('will/#')
  const id = uniqueId()
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ clientId: id, will: { topic: 'will/clean', payload: Buffer.from('no'), qos: 0, retain: false } })
  const gone = serverDisconnect(broker, id)
  const got = receivedUntil(watcher, 'will/sentinel')
  raw.send({ cmd: 'disconnect' })
  await gone
  await watcher.publishAsync('will/sentinel', 'end')
  expect(await got).toEqual([])
})

test('[MQTT-3.1.2-8] [MQTT-4.8.0-1] a DISCONNECT with a non-zero remaining length is malformed: closed, will published', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('will/badbye')
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ will: { topic: 'will/badbye', payload: Buffer.from('malformed'), qos: 0, retain: false } })
  const will = nextMessage(watcher, 'will/badbye')
  raw.writeRaw(Buffer.from([0xe0, 0x01, 0x00]))
  expect((await will).payload.toString()).toBe('malformed')
  expect(await closedBy(raw)).toBe(true)
})

test('§3.14.4 the server closes the connection after DISCONNECT (a SHOULD without a statement id; [MQTT-3.14.4-1] is the client\'s)', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'disconnect' })
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.1.2-16] [MQTT-3.1.2-17] will retain 1 publishes a retained will, 0 a normal one', async () => {
  const broker = await startBroker()
  for (const retain of [true, false]) {
    const raw = await RawClient.open(broker.mqttUrl)
    const id = uniqueId()
    await raw.connect({ clientId: id, will: { topic: `will/r${String(retain)}`, payload: Buffer.from('w'), qos: 0, retain } })
    const gone = serverDisconnect(broker, id)
    raw.socket.destroy()
    await gone
  }
  const late = await connectClient(broker.mqttUrl)
  const got = receivedUntil(late, 'will/sentinel')
  await late.subscribeAsync(['will/rtrue', 'will/rfalse', 'will/sentinel'])
  await late.publishAsync('will/sentinel', 'end')
  const messages = await got
  expect(messages.map((m) => m.topic)).toEqual(['will/rtrue'])
  expect(messages[0]?.packet.retain).toBe(true)
})

test('[MQTT-3.1.2-24] a client silent for 1.5 × keepalive is disconnected and its will published', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('will/keepalive')
  const raw = await RawClient.open(broker.mqttUrl)
  const started = Date.now()
  await raw.connect({ keepalive: 1, will: { topic: 'will/keepalive', payload: Buffer.from('expired'), qos: 0, retain: false } })
  const will = nextMessage(watcher, 'will/keepalive')
  await raw.closed()
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_400)
  expect((await will).payload.toString()).toBe('expired')
})

test('[MQTT-3.12.4-1] PINGREQ is answered with PINGRESP', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  raw.send({ cmd: 'pingreq' })
  expect((await raw.next('pingresp')).cmd).toBe('pingresp')
})

test('[MQTT-3.1.3-5] a 23-character alphanumeric client id is accepted', async () => {
  const broker = await startBroker()
  const raw = await RawClient.open(broker.mqttUrl)
  expect((await raw.connect({ clientId: 'abcdefghijklmnopqrstuvw' })).returnCode).toBe(0)
})

test('[MQTT-3.1.3-6] [MQTT-3.1.3-7] an empty client id with clean session 1 is accepted and given a unique id', async () => {
  const broker = await startBroker()
  const ids: string[] = []
  const both = new Promise<void>((resolve) => broker.on('clientReady', (c) => { if (ids.push(c.id) === 2) resolve() }))
  const a = await RawClient.open(broker.mqttUrl)
  const b = await RawClient.open(broker.mqttUrl)
  expect((await a.connect({ clientId: '', clean: true })).returnCode).toBe(0)
  expect((await b.connect({ clientId: '', clean: true })).returnCode).toBe(0)
  await both
  expect(ids[0]).not.toBe(ids[1])
  expect(ids.every((id) => id.length > 0)).toBe(true)
})

test('[MQTT-3.1.3-8] an empty client id with clean session 0 gets CONNACK 0x02 and is closed', async () => {
  const broker = await startBroker()
  await expectRefused(broker.mqttUrl, connectBytes({ flags: 0x00, clientId: '' }), 2)
})

test('[MQTT-3.1.3-9] a client id the server rejects (over limits.maxClientIdLength) gets CONNACK 0x02', async () => {
  const broker = await startBroker({ limits: { maxClientIdLength: 30 } })
  await expectRefused(broker.mqttUrl, connectBytes({ clientId: 'x'.repeat(31) }), 2)
})

test('[MQTT-3.1.3-9] an MQTT 3.1 client id must be 1-23 characters (CONNACK 0x02)', async () => {
  const broker = await startBroker()
  await expectRefused(broker.mqttUrl, connectBytes({ protocolName: 'MQIsdp', level: 3, clientId: '' }), 2)
  await expectRefused(broker.mqttUrl, connectBytes({ protocolName: 'MQIsdp', level: 3, clientId: 'x'.repeat(24) }), 2)
})

test('[MQTT-3.1.4-2] a second connection with the same client id takes over: the first is closed', async () => {
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id })
  const second = await RawClient.open(broker.mqttUrl)
  expect((await second.connect({ clientId: id })).returnCode).toBe(0)
  expect(await closedBy(first)).toBe(true)
  second.send({ cmd: 'pingreq' })
  await second.next('pingresp')
})

test('[MQTT-3.1.4-2] a connection that finishes closing after the next one with its id registered does not unregister that one: a third still takes it over', async () => {
  // the first connection's close waits in the emitter (removing its subscription) until released
  let reached = (): void => {}
  const atGate = new Promise<void>((resolve) => { reached = resolve })
  let release = (): void => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const slowUnsubscribe = definePlugin({
    name: 'slow-unsubscribe',
    register (broker) {
      broker.useEmitter(() => {
        const emitter = mqemitter()
        const removeListener = emitter.removeListener.bind(emitter)
        emitter.removeListener = (topic: string, notify: never, done?: () => void) => {
          if (topic !== 'late/close') return removeListener(topic, notify, done)
          reached()
          void gate.then(() => removeListener(topic, notify, done))
          return emitter
        }
        return emitter
      })
    },
  })
  const broker = await startBroker({}, { plugins: [slowUnsubscribe] })
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id })
  first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'late/close', qos: 0 }] })
  await first.next('suback')
  first.send({ cmd: 'disconnect' })
  await atGate
  const second = await RawClient.open(broker.mqttUrl)
  expect((await second.connect({ clientId: id })).returnCode).toBe(0)
  const firstGone = new Promise<void>((resolve) => broker.on('clientDisconnect', (c) => { if (c.id === id) resolve() }))
  release()
  await firstGone
  const third = await RawClient.open(broker.mqttUrl)
  expect((await third.connect({ clientId: id })).returnCode).toBe(0)
  expect(await closedBy(second)).toBe(true)
  third.send({ cmd: 'pingreq' })
  await third.next('pingresp')
  expect(broker.stats().connectedClients).toBe(1)
})

test('[MQTT-3.1.4-5] packets sent after a refused CONNECT are not processed', async () => {
  const broker = await startBroker()
  const raw = await RawClient.open(broker.mqttUrl)
  raw.writeRaw(Buffer.concat([
    connectBytes({ flags: 0x00, clientId: '' }), // refused: 0x02
    generate({ cmd: 'publish', topic: 'refused/retained', payload: 'x', qos: 0, retain: true }),
  ]))
  await raw.closed()
  const check = await connectClient(broker.mqttUrl)
  const got = receivedUntil(check, 'refused/sentinel')
  await check.subscribeAsync('refused/#')
  await check.publishAsync('refused/sentinel', 'end')
  expect(await got).toEqual([])
})

test('[MQTT-3.2.2-4] [MQTT-3.2.2-5] a refused CONNECT (authentication) gets Session Present 0 and is closed', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'deny-all', register: (api) => { api.hooks.add('authenticate', () => ({ deny: 4 })) } }],
  })
  await expectRefused(broker.mqttUrl, connectBytes({ flags: 0x00 | 0x80 | 0x40, clientId: uniqueId(), username: 'u', password: Buffer.from('p') }), 4)
})

test('[MQTT-3.2.2-6] a keepalive over limits.keepaliveLimit closes without CONNACK (3.1.1 has no code for it)', async () => {
  const broker = await startBroker({ limits: { keepaliveLimit: 60 } })
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ keepalive: 61 }))
  await expectClosedWithoutConnack(broker.mqttUrl, connectBytes({ keepalive: 0 }))
  const ok = await RawClient.open(broker.mqttUrl)
  expect((await ok.connect({ keepalive: 60 })).returnCode).toBe(0)
})
