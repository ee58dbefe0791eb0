/**
 * MQTT 3.1.1 §6 Using WebSocket as a network transport.
 */
import { once } from 'node:events'
import net from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'
import { expect, onTestFinished, test } from 'vitest'
import WebSocket from 'ws'
import { createBroker } from '../../src/broker.js'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { generate, uniqueId } from './support.js'

interface WsPeer {
  ws: WebSocket
  packets: Packet[]
  /** Resolves with the first packet of this command. */
  next: (cmd: Packet['cmd']) => Promise<Packet>
  binaryOnly: () => boolean
  closed: Promise<void>
}

/** A WebSocket speaking raw MQTT bytes, with the subprotocols it offers. */
async function openWs (url: string, protocols: string | string[] = 'mqtt'): Promise<WsPeer> {
  const ws = new WebSocket(url, protocols)
  onTestFinished(() => { ws.terminate() })
  const packets: Packet[] = []
  const waiters: Array<{ cmd: string, resolve: (p: Packet) => void }> = []
  let allBinary = true
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p: Packet) => {
    const i = waiters.findIndex((w) => w.cmd === p.cmd)
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(p)
    else packets.push(p)
  })
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) allBinary = false
    parser.parse(data)
  })
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
  return {
    ws,
    packets,
    closed,
    binaryOnly: () => allBinary,
    next: (cmd) => {
      const i = packets.findIndex((p) => p.cmd === cmd)
      if (i >= 0) return Promise.resolve(packets.splice(i, 1)[0]!)
      return new Promise((resolve) => waiters.push({ cmd, resolve }))
    },
  }
}

const connect = (): Buffer => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: uniqueId('ws'), keepalive: 60 })

test('[MQTT-6.0.0-4] the server selects the `mqtt` WebSocket subprotocol', async () => {
  const broker = await startBroker()
  const peer = await openWs(broker.wsUrl, ['mqtt'])
  expect(peer.ws.protocol).toBe('mqtt')
})

test('[MQTT-6.0.0-4] `mqtt` is selected whatever else is offered; `mqttv3.1` alone is accepted (MQTT 3.1 clients)', async () => {
  const broker = await startBroker()
  expect((await openWs(broker.wsUrl, ['mqttv3.1', 'mqtt'])).ws.protocol).toBe('mqtt')
  expect((await openWs(broker.wsUrl, ['foo', 'mqtt'])).ws.protocol).toBe('mqtt')
  expect((await openWs(broker.wsUrl, ['mqttv3.1'])).ws.protocol).toBe('mqttv3.1')
})

test('[MQTT-6.0.0-4] an upgrade offering only other subprotocols is refused (400); one offering none is accepted', async () => {
  const broker = await startBroker()
  for (const offer of [['foo'], ['MQTT']]) {
    const status = await new Promise<number | undefined>((resolve) => {
      const ws = new WebSocket(broker.wsUrl, offer)
      ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode); ws.terminate() })
      ws.once('open', () => { resolve(undefined); ws.terminate() })
      ws.once('error', () => {})
    })
    expect(status, offer.join()).toBe(400)
  }
  const none = await openWs(broker.wsUrl, [])
  expect(none.ws.protocol).toBe('')
  none.ws.send(connect())
  expect(await none.next('connack')).toMatchObject({ returnCode: 0 })
})

test('an upgrade to another path is refused (400) and logged at info with the reason, like a refused subprotocol', async () => {
  const capture = captureLog()
  const broker = await startBroker({}, { logger: capture.log })
  const status = async (url: string, protocols: string[]): Promise<number | undefined> => new Promise((resolve) => {
    const ws = new WebSocket(url, protocols)
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode); ws.terminate() })
    ws.once('open', () => { resolve(undefined); ws.terminate() })
    ws.once('error', () => {})
  })
  expect(await status(broker.wsUrl.replace(/\/mqtt$/, '/other'), ['mqtt'])).toBe(400)
  expect(await capture.waitFor('connection failed before MQTT')).toMatchObject({ level: 30, listener: 'ws', reason: 'WebSocket upgrade refused: the path must be /mqtt' })
  expect(await status(broker.wsUrl, ['soap'])).toBe(400)
  const subprotocol = (l: Record<string, unknown>): boolean => String(l.reason).includes('subprotocol')
  expect(await capture.waitFor('connection failed before MQTT', subprotocol)).toMatchObject({ reason: 'WebSocket upgrade refused: the WebSocket subprotocol must be mqtt (or mqttv3.1)' })
  expect(await status(broker.wsUrl + '?client=1', ['mqtt'])).toBeUndefined() // a query string is no other path
})

test('plain HTTP requests to the WebSocket port get 426 and one line a minute, whatever they ask for', async () => {
  const capture = captureLog()
  const broker = await startBroker({}, { logger: capture.log })
  const get = async (path: string): Promise<number> => (await fetch(new URL(path, broker.wsUrl.replace(/^ws/, 'http')))).status
  expect(await get('/a')).toBe(426)
  expect(await get('/b?x=1')).toBe(426) // another URL is the same kind of failure: held back, counted
  const ws = new WebSocket(broker.wsUrl.replace(/\/mqtt$/, '/other'), ['mqtt'])
  ws.once('error', () => {})
  await capture.waitFor('connection failed before MQTT', (l) => String(l.reason).includes('path'))
  const stray = capture.lines.filter((l) => l.reason === 'not a WebSocket upgrade')
  expect(stray).toEqual([expect.objectContaining({ level: 30, listener: 'ws', request: 'GET /a', sinceLastLine: 0 })])
})

test('§6 MQTT.js over WebSocket (offering `mqtt`, as [MQTT-6.0.0-3] asks of clients) exchanges messages with a TCP client', async () => {
  const broker = await startBroker()
  const ws = await connectClient(broker.wsUrl, { protocolVersion: 4 })
  await ws.subscribeAsync('ws/#', { qos: 1 })
  const got = nextMessage(ws)
  const tcp = await connectClient(broker.mqttUrl)
  await tcp.publishAsync('ws/a', 'over tcp', { qos: 1 })
  expect((await got).payload.toString()).toBe('over tcp')
})

test('[MQTT-6.0.0-1] the server sends MQTT packets in binary frames', async () => {
  const broker = await startBroker()
  const peer = await openWs(broker.wsUrl)
  peer.ws.send(connect())
  await peer.next('connack')
  peer.ws.send(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bin/#', qos: 0 }] }))
  await peer.next('suback')
  peer.ws.send(generate({ cmd: 'publish', topic: 'bin/a', payload: 'x', qos: 0 }))
  await peer.next('publish')
  expect(peer.binaryOnly()).toBe(true)
})

test('[MQTT-6.0.0-2] the server sends whole packets per WebSocket message, not one message per field (mqtt-packet writes a packet field by field)', async () => {
  const broker = await startBroker()
  const ws = new WebSocket(broker.wsUrl, 'mqtt')
  onTestFinished(() => { ws.terminate() })
  /** Per message: the packets it holds, and the bytes left over (part of a packet). */
  const messages: Array<{ cmds: string[], partial: number }> = []
  const stream: string[] = []
  const streamParser = mqttPacket.parser({ protocolVersion: 4 })
  streamParser.on('packet', (p: Packet) => stream.push(p.cmd))
  let wanted: { count: number, resolve: () => void } | undefined
  const packetCount = (): number => stream.length
  ws.on('message', (data: Buffer) => {
    const cmds: string[] = []
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let garbled = false
    parser.on('packet', (p: Packet) => cmds.push(p.cmd))
    parser.on('error', () => { garbled = true }) // a message starting inside a packet
    const left = parser.parse(data)
    messages.push({ cmds, partial: garbled ? data.length : left })
    streamParser.parse(data)
    if (wanted !== undefined && packetCount() >= wanted.count) wanted.resolve()
  })
  const received = (count: number): Promise<void> => new Promise((resolve) => {
    if (packetCount() >= count) resolve()
    else wanted = { count, resolve }
  })
  await once(ws, 'open')
  ws.send(connect())
  await received(1)
  ws.send(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'frames/#', qos: 1 }] }))
  await received(2)
  ws.send(generate({ cmd: 'publish', topic: 'frames/a', payload: 'hello', qos: 1, messageId: 2 }))
  await received(4) // its PUBACK and its delivery
  expect(messages.map((m) => m.partial)).toEqual(messages.map(() => 0))
  expect(messages.flatMap((m) => m.cmds).sort()).toEqual([...stream].sort())
})

test('[MQTT-6.0.0-1] a text frame closes the connection and is not processed', async () => {
  const broker = await startBroker()
  const peer = await openWs(broker.wsUrl)
  peer.ws.send(connect().toString('latin1'), { binary: false })
  await peer.closed
  expect(peer.packets).toEqual([])
})

test('[MQTT-6.0.0-2] packets need not align with frames: one split over frames, several in one frame', async () => {
  const broker = await startBroker()
  const peer = await openWs(broker.wsUrl)
  const bytes = connect()
  peer.ws.send(bytes.subarray(0, 5))
  peer.ws.send(bytes.subarray(5))
  await peer.next('connack')
  peer.ws.send(Buffer.concat([
    generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'frames/#', qos: 1 }] }),
    generate({ cmd: 'pingreq' }),
    generate({ cmd: 'publish', topic: 'frames/a', payload: 'x', qos: 1, messageId: 3 }).subarray(0, 4),
  ]))
  await peer.next('suback')
  await peer.next('pingresp')
  peer.ws.send(generate({ cmd: 'publish', topic: 'frames/a', payload: 'x', qos: 1, messageId: 3 }).subarray(4))
  expect((await peer.next('puback') as { messageId: number }).messageId).toBe(3)
  expect((await peer.next('publish') as { topic: string }).topic).toBe('frames/a')
})

/** A TCP connection to the WebSocket listener of `wsUrl`, upgraded by hand (raw frames can then be written). */
async function rawUpgrade (wsUrl: string): Promise<net.Socket> {
  const url = new URL(wsUrl)
  const socket = net.connect(Number(url.port), url.hostname)
  onTestFinished(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n')
  const [head] = await once(socket, 'data') as [Buffer]
  expect(head.toString()).toMatch(/^HTTP\/1\.1 101 /)
  return socket
}

test('limits.maxPacketSize bounds a WebSocket message too: one announced bigger is refused (1009) before its bytes are buffered', async () => {
  const broker = await startBroker({ limits: { maxPacketSize: 1024 } })
  const socket = await rawUpgrade(broker.wsUrl)
  const closed = once(socket, 'close')
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  // a masked binary frame announcing 80 MiB, then only its first bytes: the broker must not wait for the rest
  const header = Buffer.alloc(14)
  header[0] = 0x82
  header[1] = 0x80 | 127
  header.writeBigUInt64BE(80n * 1024n * 1024n, 2)
  socket.write(Buffer.concat([header, Buffer.alloc(1024)]))
  await closed
  // the close frame: opcode 8, status 1009 (message too big)
  const bytes = Buffer.concat(received)
  expect(bytes[0]).toBe(0x88)
  expect(bytes.readUInt16BE(2)).toBe(1009)
})

test('limits.connectTimeoutMs also closes a connection to the WebSocket listener that never upgrades', async () => {
  const broker = await startBroker({ limits: { connectTimeoutMs: 300 } })
  const url = new URL(broker.wsUrl)
  const socket = net.connect(Number(url.port), url.hostname)
  onTestFinished(() => { socket.destroy() })
  await once(socket, 'connect')
  // nothing sent: without the timeout Node's HTTP server keeps it for its headersTimeout (60 s) and more
  await once(socket, 'close')
})

test('a WebSocket port in use is a one-line error, not a crash', async () => {
  const first = await startBroker()
  const port = Number(new URL(first.wsUrl).port)
  const started = createBroker({ logLevel: 'silent', listeners: [{ type: 'ws', host: '127.0.0.1', port }], sys: { interval: 0 }, sessions: { store: 'memory' } })
  await expect(started).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use`)
})
