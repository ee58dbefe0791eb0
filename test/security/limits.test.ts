import { connect as netConnect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { loadConfig } from '../../src/config/load.js'
import { describe, expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'
import { collectMessages, connectClient, nextMessage, RawClient } from '../helpers/clients.js'

/** A TCP socket to `url`, destroyed when the test ends; resolves once connected. */
async function openSocket (url: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = netConnect({ host: hostname, port: Number(port) })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  return socket
}

const closed = (socket: Socket): Promise<void> => new Promise((resolve) => {
  if (socket.destroyed) resolve()
  else socket.once('close', () => resolve())
})

/** Resolves with 'connack' or 'closed', whichever the broker answers a CONNECT with. */
async function connectOutcome (url: string): Promise<'connack' | 'closed'> {
  const raw = await RawClient.open(url)
  return Promise.race([raw.connect().then(() => 'connack' as const), raw.closed().then(() => 'closed' as const)])
}

describe('connection limits', () => {
  test('limits.maxConnections caps all listeners together', async () => {
    const broker = await startBroker({ limits: { maxConnections: 2 } })
    await connectClient(broker.mqttUrl)
    await connectClient(broker.wsUrl)
    expect(await connectOutcome(broker.mqttUrl)).toBe('closed')
    expect(broker.stats().refused).toBe(1)
  })

  test('a listener maxConnections caps that listener only', async () => {
    const broker = await startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0, maxConnections: 1 }, { type: 'ws', host: '127.0.0.1', port: 0 }] })
    await connectClient(broker.mqttUrl)
    expect(await connectOutcome(broker.mqttUrl)).toBe('closed')
    const ws = await connectClient(broker.wsUrl)
    expect(ws.connected).toBe(true)
  })

  test('connectionRatePerIp refuses connections over the burst, then refills; each refusal is counted and logged at info', async () => {
    const capture = captureLog()
    const broker = await startBroker({ limits: { connectionRatePerIp: 20, connectionBurstPerIp: 2 } }, { logger: capture.log })
    expect(await connectOutcome(broker.mqttUrl)).toBe('connack')
    await connectClient(broker.wsUrl) // one bucket per address, across listeners
    expect(await connectOutcome(broker.mqttUrl)).toBe('closed')
    expect(broker.stats().refused).toBe(1)
    expect(await capture.waitFor('connection refused')).toMatchObject({ level: 30, listener: 'mqtt', remoteAddress: '127.0.0.1', reason: 'limits.connectionRatePerIp exceeded', sinceLastLine: 0 })
    // 20/s refills a token in 50 ms: retry on each refusal until one is admitted
    let outcome: 'connack' | 'closed' = 'closed'
    while (outcome === 'closed') outcome = await connectOutcome(broker.mqttUrl)
    expect(outcome).toBe('connack')
  })

  test('a socket that never completes CONNECT is closed after connectTimeoutMs (slowloris)', async () => {
    const broker = await startBroker({ limits: { connectTimeoutMs: 300 } })
    const started = performance.now()
    const silent = await openSocket(broker.mqttUrl)
    const dribble = await openSocket(broker.mqttUrl)
    dribble.write(Buffer.from([0x10, 0x20, 0x00])) // a CONNECT header announcing 32 bytes, then nothing
    await Promise.all([closed(silent), closed(dribble)])
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
    const client = await connectClient(broker.mqttUrl)
    expect(client.connected).toBe(true)
  })

  test('a client id longer than maxClientIdLength gets CONNACK 2', async () => {
    const broker = await startBroker({ limits: { maxClientIdLength: 10 } })
    const raw = await RawClient.open(broker.mqttUrl)
    expect((await raw.connect({ clientId: 'x'.repeat(11) })).returnCode).toBe(2)
    const ok = await RawClient.open(broker.mqttUrl)
    expect((await ok.connect({ clientId: 'x'.repeat(10) })).returnCode).toBe(0)
  })

  test('a topic deeper than maxTopicLevels closes the connection; such a filter gets SUBACK 0x80 [MQTT-3.8.4-1]', async () => {
    const broker = await startBroker({ limits: { maxTopicLevels: 6 } })
    const publisher = await RawClient.open(broker.mqttUrl)
    await publisher.connect()
    publisher.send({ cmd: 'publish', topic: 'a/b/c/d/e/f/g', payload: 'x', qos: 0 })
    await publisher.closed()
    const subscriber = await RawClient.open(broker.mqttUrl)
    await subscriber.connect()
    subscriber.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b/c/d/e/+/#', qos: 0 }, { topic: 'a/b/c/d/e/+', qos: 1 }] })
    const suback = await subscriber.next<Packet & { granted: number[] }>('suback')
    expect(suback.granted).toEqual([0x80, 1])
    expect(subscriber.socket.destroyed).toBe(false)
    const client = await connectClient(broker.mqttUrl)
    await client.subscribeAsync('a/b/c/d/e/+')
    const got = nextMessage(client)
    await client.publishAsync('a/b/c/d/e/f', 'ok')
    expect((await got).topic).toBe('a/b/c/d/e/f')
  })

  test('maxTopicLevels below the depth of the broker\'s own $SYS topics is a config error, not figures that silently stop', () => {
    expect(() => loadConfig({ input: { limits: { maxTopicLevels: 5 } } })).toThrow(/limits\.maxTopicLevels: at least 6: the broker's own \$SYS topics have up to 6 levels/)
  })
})

describe('maxPacketSize', () => {
  test('an oversized packet closes only its connection, over TCP and WebSocket', async () => {
    const broker = await startBroker({ limits: { maxPacketSize: 1024 } })
    const bystander = await connectClient(broker.mqttUrl)
    await bystander.subscribeAsync('size/#')
    for (const url of [broker.mqttUrl, broker.wsUrl]) {
      const big = await connectClient(url)
      const gone = new Promise<void>((resolve) => big.once('close', () => resolve()))
      big.publish('size/big', Buffer.alloc(2000))
      await gone
    }
    const got = nextMessage(bystander)
    await bystander.publishAsync('size/small', Buffer.alloc(900))
    expect((await got).topic).toBe('size/small')
  })

  test('the connection closes on the announced length, before the body is sent', async () => {
    const broker = await startBroker({ limits: { maxPacketSize: 4096 } })
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect()
    raw.writeRaw(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x40])) // PUBLISH announcing 128 MiB, no body
    await raw.closed()
  })
})

describe('publish rate', () => {
  test('over publishRate the publisher is slowed, and nothing is dropped', async () => {
    const broker = await startBroker({ limits: { publishRate: 20 } })
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('rate/#')
    const all = collectMessages(sub, 40)
    const pub = await connectClient(broker.wsUrl)
    const started = performance.now()
    for (let i = 0; i < 40; i++) pub.publish('rate/t', String(i))
    const got = await all
    // a burst of 20, then 20 more at 20/s
    expect(performance.now() - started).toBeGreaterThanOrEqual(850)
    expect(got.map((m) => m.payload.toString())).toEqual(Array.from({ length: 40 }, (_, i) => String(i)))
  })

  test('a throttled publisher is held back by TCP: the broker stops reading its socket', async () => {
    const broker = await startBroker({ limits: { publishBytesRate: 64 * 1024 } })
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('flood')
    const first = nextMessage(sub)
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect()
    const packet = mqttPacket.generate({ cmd: 'publish', topic: 'flood', payload: Buffer.alloc(16 * 1024), qos: 0, dup: false, retain: false })
    for (let i = 0; i < 2048; i++) raw.writeRaw(packet) // 32 MiB: far more than the socket buffers hold
    await first
    // the kernel buffers are full: the rest waits in the publisher's own stream buffer
    expect(raw.socket.writableLength).toBeGreaterThan(8 * 1024 * 1024)
    // other clients are served meanwhile
    const other = await connectClient(broker.mqttUrl)
    await other.subscribeAsync('other')
    const got = nextMessage(other, 'other')
    await other.publishAsync('other', 'fine')
    await got
  })

  test('throttleDisconnectMs closes a publisher that stays over the rate', async () => {
    const broker = await startBroker({ limits: { publishRate: 50, throttleDisconnectMs: 400 } })
    const raw = await RawClient.open(broker.mqttUrl)
    await raw.connect()
    const packet = mqttPacket.generate({ cmd: 'publish', topic: 'abuse', payload: Buffer.alloc(10), qos: 0, dup: false, retain: false })
    const started = performance.now()
    for (let i = 0; i < 1000; i++) raw.writeRaw(packet)
    await raw.closed()
    expect(performance.now() - started).toBeGreaterThanOrEqual(350)
  })
})
