/**
 * The wire guard (src/core/spec-wire.ts) on packets split across TCP reads:
 * a large PUBLISH is checked once its topic and packet id have arrived, and its
 * payload is then streamed through unbuffered.
 */
import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { closedBy, publishBytes, rawConnected } from './support.js'

test('[MQTT-3.3.2-1] a large PUBLISH written in pieces is delivered intact', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('big/t', { qos: 1 })
  const got = nextMessage(sub, 'big/t')
  const raw = await rawConnected(broker.mqttUrl)
  const payload = Buffer.alloc(300_000, 7)
  payload[payload.length - 1] = 9
  const bytes = publishBytes(Buffer.from('big/t'), payload, 1, 5)
  for (const cut of [[0, 3], [3, 12], [12, 100_000], [100_000, 200_000], [200_000, bytes.length]] as const) {
    raw.writeRaw(bytes.subarray(cut[0], cut[1]))
    await new Promise((resolve) => setImmediate(resolve))
  }
  const message = await got
  expect(message.payload.equals(payload)).toBe(true)
  await sub.endAsync()
})

test('[MQTT-1.5.3-1] ill-formed UTF-8 in the topic of a PUBLISH whose payload has not arrived closes the connection', async () => {
  const broker = await startBroker()
  const raw = await rawConnected(broker.mqttUrl)
  const bytes = publishBytes(Buffer.from([0x61, 0xff, 0x62]), Buffer.alloc(100_000), 0)
  const closed = closedBy(raw)
  raw.writeRaw(bytes.subarray(0, 20))
  expect(await closed).toBe(true)
})
