import { readFileSync } from 'node:fs'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import mqtt from 'mqtt'
import { beforeAll, describe, expect, test } from 'vitest'
import type { BrokerConfigInput } from '../../src/config/schema.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import type { Logger } from 'pino'
import { captureLog } from '../helpers/log-capture.js'
import { makeCerts, type TestCerts, tempDir, writeAclFile } from './support.js'

let certs: TestCerts
beforeAll(() => { certs = makeCerts() })

function tlsListeners (extra: Record<string, unknown> = {}): BrokerConfigInput['listeners'] {
  const files = { cert: certs.serverCert, key: certs.serverKey, ...extra }
  return [
    { type: 'mqtts', host: '127.0.0.1', port: 0, ...files },
    { type: 'wss', host: '127.0.0.1', port: 0, ...files },
  ]
}

async function tlsBroker (config: BrokerConfigInput = {}, extra: Record<string, unknown> = {}, logger?: Logger): Promise<{ mqtts: string, wss: string, broker: Awaited<ReturnType<typeof startBroker>> }> {
  const broker = await startBroker({ listeners: tlsListeners(extra), ...config }, logger === undefined ? {} : { logger })
  const url = (type: string): string => broker.addresses().find((a) => a.type === type)?.url ?? ''
  return { broker, mqtts: url('mqtts'), wss: url('wss') }
}

describe('TLS listeners', () => {
  test('an mqtts client and a wss client exchange messages', async () => {
    const { mqtts, wss } = await tlsBroker()
    const ca = readFileSync(certs.ca)
    const sub = await connectClient(wss, { ca })
    await sub.subscribeAsync('tls/#', { qos: 1 })
    const pub = await connectClient(mqtts, { ca })
    const got = nextMessage(sub)
    await pub.publishAsync('tls/x', 'secret', { qos: 1 })
    expect((await got).payload.toString()).toBe('secret')
  })

  test('a key that does not belong to the cert is one line naming the listener and both files', async () => {
    const other = certs.client('someone-else')
    const started = startBroker({ listeners: [{ type: 'mqtts', name: 'secure', host: '127.0.0.1', port: 0, cert: certs.serverCert, key: other.key }] })
    await expect(started).rejects.toThrow(`secure listener: cannot use cert ${certs.serverCert}, key ${other.key}: `)
  })

  test('a plain client on the TLS port fails cleanly, is logged at info, and the broker keeps serving', async () => {
    const capture = captureLog()
    const { mqtts } = await tlsBroker({}, {}, capture.log)
    const { port } = new URL(mqtts)
    const plain = netConnect({ host: '127.0.0.1', port: Number(port) })
    plain.on('error', () => {})
    await new Promise<void>((resolve) => plain.once('connect', () => resolve()))
    // A CONNECT in clear: not a TLS ClientHello.
    plain.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]))
    await new Promise<void>((resolve) => plain.once('close', () => resolve()))
    const client = await connectClient(mqtts, { ca: readFileSync(certs.ca) })
    expect(client.connected).toBe(true)
    expect(await capture.waitFor('connection failed before MQTT')).toMatchObject({ level: 30, listener: 'mqtts', remoteAddress: '127.0.0.1', reason: expect.stringMatching(/^TLS handshake failed: /) })
  })

  test('a client that does not trust the server certificate is refused by its own TLS layer', async () => {
    const { mqtts } = await tlsBroker()
    await expect(mqtt.connectAsync(mqtts, { reconnectPeriod: 0, connectTimeout: 5_000 })).rejects.toThrow(/self-signed|unable to verify|certificate/i)
  })

  for (const type of ['mqtts', 'wss'] as const) {
    test(`the ${type} listener maxConnections counts sockets still in their TLS handshake; a refusal is logged once`, async () => {
      // (without the cap, the third socket would be closed by the handshake timeout, not refused)
      const capture = captureLog()
      const broker = await startBroker({ limits: { connectTimeoutMs: 2_000 }, listeners: [{ type, host: '127.0.0.1', port: 0, cert: certs.serverCert, key: certs.serverKey, maxConnections: 2 }] }, { logger: capture.log })
      const port = Number(new URL(broker.addresses()[0]!.url).port)
      const open = async (): Promise<import('node:net').Socket> => {
        const socket = netConnect({ host: '127.0.0.1', port })
        socket.on('error', () => {})
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
        return socket
      }
      const idle = [await open(), await open()] // never send a ClientHello
      const third = await open()
      await new Promise<void>((resolve) => third.once('close', () => resolve()))
      expect(broker.stats().refused).toBe(1)
      expect(broker.stats().connections).toBe(2)
      await capture.waitFor('connection refused')
      // A handshake that fails after the refusal: the refused socket, had it reached TLS, was reported first.
      const closed = new Promise<void>((resolve) => idle[0]!.once('close', () => resolve()))
      idle[0]!.write('not a ClientHello\r\n\r\n')
      await closed
      await capture.waitFor('connection failed before MQTT')
      const lines = capture.lines.filter((l) => String(l.msg).startsWith('connection '))
      expect(lines).toHaveLength(2)
      expect(lines[1]).toMatchObject({ msg: 'connection failed before MQTT', reason: expect.not.stringContaining('socket hang up') })
      idle[1]!.destroy()
    })
  }

  test('a stalled TLS handshake is closed after connectTimeoutMs', async () => {
    const { mqtts } = await tlsBroker({ limits: { connectTimeoutMs: 200 } })
    const socket = netConnect({ host: '127.0.0.1', port: Number(new URL(mqtts).port) })
    socket.on('error', () => {})
    const started = performance.now()
    await new Promise<void>((resolve) => socket.once('close', () => resolve()))
    expect(performance.now() - started).toBeGreaterThanOrEqual(150)
  })

  describe('client certificates (requestCert, useCertificateAsUsername)', () => {
    const secured = async (logger?: Logger): Promise<{ mqtts: string, wss: string }> => {
      const aclFile = writeAclFile(tempDir(), ['user device-1', 'topic readwrite device-1/#'])
      const { mqtts, wss } = await tlsBroker({ security: { allowAnonymous: false, useCertificateAsUsername: true, aclFile } }, { ca: certs.ca, requestCert: true }, logger)
      return { mqtts, wss }
    }

    test('the certificate CN is the username: no password needed, ACLs apply to it; the connect line names the CN', async () => {
      const capture = captureLog()
      const { mqtts, wss } = await secured(capture.log)
      const device = certs.client('device-1')
      const tls = { ca: readFileSync(certs.ca), cert: readFileSync(device.cert), key: readFileSync(device.key) }
      const client = await connectClient(mqtts, tls)
      expect(await capture.waitFor('client connected')).toMatchObject({ listener: 'mqtts', certificateCN: 'device-1' })
      await client.subscribeAsync('device-1/#')
      const got = nextMessage(client)
      await client.publishAsync('device-1/state', 'on')
      expect((await got).topic).toBe('device-1/state')
      await expect(client.subscribeAsync('device-2/#')).rejects.toThrow()
      const overWs = await connectClient(wss, tls)
      expect(overWs.connected).toBe(true)
    })

    test('a CONNECT username that differs from the CN gets CONNACK 4', async () => {
      const { mqtts } = await secured()
      const device = certs.client('device-1')
      await expect(mqtt.connectAsync(mqtts, {
        reconnectPeriod: 0, ca: readFileSync(certs.ca), cert: readFileSync(device.cert), key: readFileSync(device.key), username: 'device-2',
      })).rejects.toMatchObject({ code: 4 })
    })

    test('without a certificate the TLS handshake fails', async () => {
      const { mqtts } = await secured()
      const socket = tlsConnect({ host: '127.0.0.1', port: Number(new URL(mqtts).port), ca: readFileSync(certs.ca), servername: 'localhost' })
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (err) => resolve(err.message))
        // TLS 1.3: the server's refusal arrives after the client thinks it is connected.
        socket.once('close', () => resolve('closed'))
      })
      expect(outcome).toMatch(/certificate|closed|alert/i)
    })
  })
})
