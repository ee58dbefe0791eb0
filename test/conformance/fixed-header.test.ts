/**
 * MQTT 3.1.1 §2.2.2 fixed-header flags, §3.14.1 DISCONNECT's header, and the
 * will and takeover rules around a connection's end that the other files do
 * not cover ([MQTT-3.1.2-12], [MQTT-3.1.4-2] with a refused CONNECT).
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage, RawClient } from '../helpers/clients.js'
import { closedBy, connectBytes, rawConnected, receivedUntil, serverDisconnect, uniqueId } from './support.js'

test('[MQTT-2.2.2-2] a reserved fixed-header flag set on PUBACK, PUBREC, PUBCOMP, PINGREQ or DISCONNECT closes the connection', async () => {
  const broker = await startBroker()
  const packets: Record<string, Buffer> = {
    PUBACK: Buffer.from([0x41, 0x02, 0x00, 0x01]),
    PUBREC: Buffer.from([0x52, 0x02, 0x00, 0x01]),
    PUBCOMP: Buffer.from([0x78, 0x02, 0x00, 0x01]),
    PINGREQ: Buffer.from([0xc1, 0x00]),
    DISCONNECT: Buffer.from([0xe8, 0x00]),
  }
  for (const [name, bytes] of Object.entries(packets)) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.writeRaw(bytes)
    expect(await closedBy(raw), name).toBe(true)
    expect(raw.packets.filter((p) => p.cmd === 'pingresp'), name).toEqual([])
  }
})

test('[MQTT-4.8.0-1] a packet whose length does not fit its type, or [MQTT-3.3.1-2] a QoS 0 PUBLISH with DUP set, closes only that connection', async () => {
  const broker = await startBroker()
  const bystander = await connectClient(broker.mqttUrl)
  await bystander.subscribeAsync('fh/ok')
  const packets: Record<string, Buffer> = {
    'PINGREQ with a body': Buffer.from([0xc0, 0x01, 0x00]),
    'PUBACK of 3 bytes': Buffer.from([0x40, 0x03, 0x00, 0x01, 0x00]),
    'PUBREL of 3 bytes': Buffer.from([0x62, 0x03, 0x00, 0x01, 0x00]),
    'QoS 0 PUBLISH with DUP': Buffer.from([0x38, 0x06, 0x00, 0x04, 0x66, 0x68, 0x2f, 0x78]),
  }
  for (const [name, bytes] of Object.entries(packets)) {
    const raw = await rawConnected(broker.mqttUrl)
    raw.writeRaw(bytes)
    expect(await closedBy(raw), name).toBe(true)
    expect(raw.packets.filter((p) => p.cmd === 'pingresp'), name).toEqual([])
  }
  const ok = nextMessage(bystander, 'fh/ok')
  await bystander.publishAsync('fh/ok', 'still here')
  expect((await ok).payload.toString()).toBe('still here')
})

test('[MQTT-3.14.1-1] [MQTT-3.1.2-8] a DISCONNECT with reserved flags set is a protocol error: closed, will published', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('fh/will')
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ will: { topic: 'fh/will', payload: Buffer.from('flags'), qos: 0, retain: false } })
  const will = nextMessage(watcher, 'fh/will')
  raw.writeRaw(Buffer.from([0xe1, 0x00]))
  expect((await will).payload.toString()).toBe('flags')
  expect(await closedBy(raw)).toBe(true)
})

test('[MQTT-3.1.2-12] without the will flag nothing is published when the connection drops', async () => {
  const broker = await startBroker()
  const watcher = await connectClient(broker.mqttUrl)
  await watcher.subscribeAsync('#')
  const got = receivedUntil(watcher, 'fh/sentinel')
  const id = uniqueId()
  const raw = await RawClient.open(broker.mqttUrl)
  raw.writeRaw(connectBytes({ clientId: id, flags: 0x02 }))
  await raw.next('connack')
  const gone = serverDisconnect(broker, id)
  raw.socket.destroy()
  await gone
  await watcher.publishAsync('fh/sentinel', 'end')
  expect(await got).toEqual([])
})

test('[MQTT-3.1.4-2] a CONNECT refused by authentication does not take over: the connected client stays', async () => {
  const broker = await startBroker({}, {
    plugins: [{ name: 'password', register: (api) => { api.hooks.add('authenticate', (_c, username) => username === 'ok' ? 'allow' : { deny: 4 }) } }],
  })
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, username: 'ok' })
  const second = await RawClient.open(broker.mqttUrl)
  expect((await second.connect({ clientId: id, username: 'bad' })).returnCode).toBe(4)
  await second.closed()
  first.send({ cmd: 'pingreq' })
  await first.next('pingresp')
})
