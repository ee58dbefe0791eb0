import { connect as netConnect, type Socket } from 'node:net'
import { beforeAll, expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'
import { makeCerts, type TestCerts } from '../security/support.js'
import { scrape } from './helpers.js'

let certs: TestCerts
beforeAll(() => { certs = makeCerts() })

/** Connects, writes `bytes` (if any), and resolves with what came back when the broker has closed the socket. */
async function sendAndWaitClose (port: number, bytes?: Buffer | string): Promise<string> {
  const socket: Socket = netConnect({ host: '127.0.0.1', port })
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  if (bytes !== undefined) socket.write(bytes)
  await closed
  return answer
}

test('connections that fail before MQTT are counted per listener and stage, in /metrics and broker.stats()', async () => {
  const capture = captureLog()
  const broker = await startBroker({
    limits: { connectTimeoutMs: 300 },
    listeners: [
      { type: 'mqtt', host: '127.0.0.1', port: 0 },
      { type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt' },
      { type: 'mqtts', host: '127.0.0.1', port: 0, cert: certs.serverCert, key: certs.serverKey },
      { type: 'http', host: '127.0.0.1', port: 0 },
    ],
  }, { logger: capture.log })
  const port = (type: string): number => Number(new URL(broker.addresses().find((a) => a.type === type)!.url).port)
  const failed = (reason: (r: string) => boolean) => capture.waitFor('', (l) => typeof l.reason === 'string' && reason(l.reason))

  await sendAndWaitClose(port('mqtt'), Buffer.from([0xc0, 0x00])) // PINGREQ first [MQTT-3.1.0-1]
  await failed((r) => r.includes('[MQTT-3.1.0-1]'))
  await sendAndWaitClose(port('mqtts'), 'not a ClientHello\r\n\r\n')
  await sendAndWaitClose(port('mqtts'), 'nor this\r\n\r\n')
  await failed((r) => r.startsWith('TLS handshake failed'))
  expect((await fetch(`http://127.0.0.1:${port('ws')}/mqtt`)).status).toBe(426)
  await failed((r) => r === 'not a WebSocket upgrade')
  expect(await sendAndWaitClose(port('ws'), 'hello\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /)
  await failed((r) => r.startsWith('not an HTTP request'))
  await sendAndWaitClose(port('ws')) // says nothing: closed after connectTimeoutMs
  await failed((r) => r.startsWith('no WebSocket upgrade'))

  const metrics = await scrape(`${broker.addresses().find((a) => a.type === 'http')!.url}/metrics`)
  const value = (listener: string, stage: string): number | undefined => metrics.value(`midge_connections_failed_total{listener="${listener}",stage="${stage}"}`)
  expect([value('mqtt', 'mqtt'), value('mqtts', 'tls'), value('ws', 'websocket')]).toEqual([1, 2, 3])
  expect(broker.stats().failures).toEqual(expect.arrayContaining([{ listener: 'mqtts', stage: 'tls', count: 2 }]))
})
