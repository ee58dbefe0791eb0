import { expect, test } from 'vitest'
import { connectClient, RawClient } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'

/** The disconnect line says why and from where; a takeover is named (it was a bare "client disconnected"). */
test('disconnect lines carry the reason, the listener and the address; a takeover is logged', async () => {
  const capture = captureLog()
  const broker = await startBroker({}, { logger: capture.log })
  const disconnects = (): Array<Record<string, unknown>> => capture.lines.filter((l) => l.msg === 'client disconnected')
  const waitDisconnects = async (n: number): Promise<void> => { while (disconnects().length < n) await capture.waitFor('client disconnected').then(() => new Promise((resolve) => setImmediate(resolve))) }

  const first = await connectClient(broker.mqttUrl, { clientId: 'dev-1', reconnectPeriod: 0 })
  const second = await connectClient(broker.mqttUrl, { clientId: 'dev-1', reconnectPeriod: 0 })
  expect(await capture.waitFor('client id taken over')).toMatchObject({ clientId: 'dev-1', listener: 'mqtt', remoteAddress: '127.0.0.1' })
  await waitDisconnects(1)
  await second.endAsync()
  await waitDisconnects(2)
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ clientId: 'dev-2' })
  raw.socket.destroy()
  await waitDisconnects(3)
  expect(disconnects().map((l) => [l.clientId, l.reason, l.listener, l.remoteAddress])).toEqual([
    ['dev-1', 'taken over by a new connection with the same client id', 'mqtt', '127.0.0.1'],
    ['dev-1', 'DISCONNECT', 'mqtt', '127.0.0.1'],
    ['dev-2', 'connection closed', 'mqtt', '127.0.0.1'],
  ])
  first.end(true)
})

/** A protocol violation the core finds was logged as a plain "connection closed" (found by an outside probe). */
test('a protocol violation after CONNECT is the reason on the disconnect line', async () => {
  const capture = captureLog()
  const broker = await startBroker({}, { logger: capture.log })
  const raw = await RawClient.open(broker.mqttUrl)
  await raw.connect({ clientId: 'dev-bad' })
  raw.send({ cmd: 'publish', topic: 'a/b', payload: 'x', qos: 1, messageId: 0 }) // packet id 0 [MQTT-2.3.1-1]
  await raw.closed()
  expect(await capture.waitFor('client disconnected')).toMatchObject({
    clientId: 'dev-bad',
    reason: expect.stringMatching(/^error: protocol violation: .*\[MQTT-2\.3\.1-1\]/),
  })
})

/** Nothing at info said that a connection failed before CONNECT, nor from where. */
test('a connection that fails before CONNECT is one info line with the listener, address and reason; repeats are counted, not logged', async () => {
  const capture = captureLog()
  const broker = await startBroker({}, { logger: capture.log })
  for (let i = 0; i < 3; i++) {
    const raw = await RawClient.open(broker.mqttUrl)
    raw.send({ cmd: 'pingreq' }) // [MQTT-3.1.0-1] the first packet must be CONNECT
    await raw.closed()
  }
  const line = await capture.waitFor('connection closed before CONNECT completed')
  expect(line).toMatchObject({ level: 30, listener: 'mqtt', remoteAddress: '127.0.0.1', reason: expect.stringContaining('[MQTT-3.1.0-1]'), sinceLastLine: 0 })
  expect(capture.lines.filter((l) => l.msg === line.msg)).toHaveLength(1)
})
