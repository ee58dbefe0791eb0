import { MqttClient } from 'mqtt'
import { describe, expect, test } from 'vitest'
import { connectClient, collectMessages, nextMessage, RawClient } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { duplexPair } from '../helpers/duplex-pair.js'

describe.each(['mqtt', 'ws'] as const)('MQTT basics over %s', (transport) => {
  const urlOf = (b: { mqttUrl: string, wsUrl: string }): string => transport === 'mqtt' ? b.mqttUrl : b.wsUrl

  test.each([0, 1, 2] as const)('QoS %i publish reaches a subscriber end to end at that QoS', async (qos) => {
    const broker = await startBroker()
    const sub = await connectClient(urlOf(broker))
    await sub.subscribeAsync('q/t', { qos: 2 })
    const pub = await connectClient(urlOf(broker))
    const got = nextMessage(sub)
    await pub.publishAsync('q/t', Buffer.from([0, 1, 2, 255]), { qos })
    const msg = await got
    expect(msg.packet.qos).toBe(qos)
    expect([...msg.payload]).toEqual([0, 1, 2, 255])
  })

  test('wildcards: + matches one level, # matches the rest and the parent', async () => {
    const broker = await startBroker()
    const plus = await connectClient(urlOf(broker))
    const hash = await connectClient(urlOf(broker))
    await plus.subscribeAsync('home/+/temp')
    await hash.subscribeAsync('home/#')
    const pub = await connectClient(urlOf(broker))
    const plusGot = collectMessages(plus, 2)
    const hashGot = collectMessages(hash, 4)
    for (const t of ['home', 'home/kitchen/temp', 'home/kitchen/fridge/temp', 'home/hall/temp']) await pub.publishAsync(t, 'x', { qos: 1 })
    expect((await plusGot).map((m) => m.topic)).toEqual(['home/kitchen/temp', 'home/hall/temp'])
    expect((await hashGot).map((m) => m.topic)).toEqual(['home', 'home/kitchen/temp', 'home/kitchen/fridge/temp', 'home/hall/temp'])
  })
})

describe('MQTT behaviours', () => {
  test('$ topics are not matched by a leading wildcard, but are by an explicit filter', async () => {
    const broker = await startBroker()
    const all = await connectClient(broker.mqttUrl)
    const dollar = await connectClient(broker.mqttUrl)
    await all.subscribeAsync('#')
    await all.subscribeAsync('+/x')
    await dollar.subscribeAsync('$internal/#')
    const seen: string[] = []
    all.on('message', (t) => seen.push(t))
    const dollarGot = nextMessage(dollar)
    await broker.publish({ topic: '$internal/x', payload: 'secret', qos: 1 })
    expect((await dollarGot).topic).toBe('$internal/x')
    const sentinel = nextMessage(all, 'sentinel')
    await broker.publish({ topic: 'sentinel', payload: '', qos: 1 })
    await sentinel
    expect(seen).toEqual(['sentinel'])
  })

  test('retained messages are set, replaced and cleared by an empty payload', async () => {
    const broker = await startBroker()
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('r/t', 'one', { qos: 1, retain: true })
    await pub.publishAsync('r/t', 'two', { qos: 1, retain: true })
    const first = await connectClient(broker.mqttUrl)
    const got = nextMessage(first)
    await first.subscribeAsync('r/#', { qos: 1 })
    const msg = await got
    expect(msg.payload.toString()).toBe('two')
    expect(msg.packet.retain).toBe(true)

    await pub.publishAsync('r/t', '', { qos: 1, retain: true })
    const second = await connectClient(broker.mqttUrl)
    const seen: string[] = []
    second.on('message', (t) => seen.push(t))
    await second.subscribeAsync('r/#', { qos: 1 })
    const sentinel = nextMessage(second, 'r/sentinel')
    await pub.publishAsync('r/sentinel', 'x', { qos: 1 })
    await sentinel
    expect(seen).toEqual(['r/sentinel'])
  })

  test('a will is published on abnormal disconnect only', async () => {
    const broker = await startBroker()
    const watcher = await connectClient(broker.mqttUrl)
    await watcher.subscribeAsync('wills/#', { qos: 1 })
    const seen: string[] = []
    watcher.on('message', (t) => seen.push(t))

    const polite = await connectClient(broker.mqttUrl, { will: { topic: 'wills/polite', payload: Buffer.from('gone'), qos: 1, retain: false } })
    await polite.endAsync()

    const rude = await RawClient.open(broker.mqttUrl)
    await rude.connect({ will: { topic: 'wills/rude', payload: Buffer.from('gone'), qos: 1, retain: false } })
    const will = nextMessage(watcher, 'wills/rude')
    rude.socket.destroy()
    expect((await will).payload.toString()).toBe('gone')
    expect(seen).toEqual(['wills/rude'])
  })

  test('a second connection with the same client id takes over and the first is closed', async () => {
    const broker = await startBroker()
    const first = await connectClient(broker.mqttUrl, { clientId: 'same' })
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await connectClient(broker.mqttUrl, { clientId: 'same' })
    await closed
    expect(second.connected).toBe(true)
  })

  test('unsubscribe stops delivery', async () => {
    const broker = await startBroker()
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync(['u/a', 'u/b'])
    await sub.unsubscribeAsync('u/a')
    const seen: string[] = []
    sub.on('message', (t) => seen.push(t))
    const got = nextMessage(sub, 'u/b')
    await broker.publish({ topic: 'u/a', payload: 'x', qos: 1 })
    await broker.publish({ topic: 'u/b', payload: 'x', qos: 1 })
    await got
    expect(seen).toEqual(['u/b'])
  })

  test('a silent client is disconnected after 1.5 × keepalive', async () => {
    const broker = await startBroker()
    const raw = await RawClient.open(broker.mqttUrl)
    const connack = await raw.connect({ keepalive: 1 })
    expect(connack.returnCode).toBe(0)
    const started = Date.now()
    await raw.closed()
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(1_400)
    expect(elapsed).toBeLessThan(3_000)
  })

  test('a malformed packet disconnects only that client', async () => {
    const broker = await startBroker()
    const good = await connectClient(broker.mqttUrl)
    await good.subscribeAsync('still/#', { qos: 1 })
    const bad = await RawClient.open(broker.mqttUrl)
    await bad.connect()
    // PUBLISH with QoS 3 (both QoS bits set) is malformed [MQTT-3.3.1-4].
    bad.writeRaw(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]))
    await bad.closed()
    const got = nextMessage(good)
    const other = await connectClient(broker.mqttUrl)
    await other.publishAsync('still/alive', 'yes', { qos: 1 })
    expect((await got).payload.toString()).toBe('yes')
    expect(good.connected).toBe(true)
  })

  test('garbage before CONNECT closes only that socket', async () => {
    const broker = await startBroker()
    const good = await connectClient(broker.mqttUrl)
    const bad = await RawClient.open(broker.mqttUrl)
    bad.writeRaw(Buffer.from('GET / HTTP/1.1\r\n\r\n'))
    await bad.closed()
    await good.subscribeAsync('x')
    expect(good.connected).toBe(true)
  })
})

describe('embedding', () => {
  test('an in-process client attaches over a stream with no listener', async () => {
    const broker = await startBroker({ listeners: [] })
    expect(broker.addresses()).toEqual([])
    const [server, clientSide] = duplexPair()
    const info = broker.attach(server, 'in-process')
    // typed as a string: before CONNECT it was aedes's null
    expect(info.id).toBe('')
    const client = new MqttClient(() => clientSide as never, { reconnectPeriod: 0, clientId: 'gateway-internal', protocolVersion: 4, clean: false })
    await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) })
    expect({ id: info.id, clean: info.clean, listener: info.listener }).toEqual({ id: 'gateway-internal', clean: false, listener: 'in-process' })
    await client.subscribeAsync('sensors/#', { qos: 1 })
    const got = nextMessage(client)
    await broker.publish({ topic: 'sensors/1', payload: '21.5', qos: 1 })
    expect((await got).payload.toString()).toBe('21.5')
    await client.endAsync()
  })

  test('broker events report clients and publishes with a client facade', async () => {
    const broker = await startBroker()
    const ready = new Promise<string>((resolve) => broker.on('clientReady', (c) => resolve(`${c.id}@${c.listener}`)))
    const published = new Promise<string>((resolve) => broker.on('publish', (m, c) => { if (m.topic === 'ev') resolve(`${c?.id ?? '-'}:${String(m.payload)}`) }))
    const client = await connectClient(broker.mqttUrl, { clientId: 'dev-1' })
    expect(await ready).toBe('dev-1@mqtt')
    await client.publishAsync('ev', 'v', { qos: 1 })
    expect(await published).toBe('dev-1:v')
  })
})
