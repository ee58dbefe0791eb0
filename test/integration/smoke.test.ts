import { expect, test } from 'vitest'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'

test('a message published over TCP reaches a WebSocket subscriber', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.wsUrl)
  await sub.subscribeAsync('a/+', { qos: 1 })
  const pub = await connectClient(broker.mqttUrl)
  const got = nextMessage(sub)
  await pub.publishAsync('a/b', 'hello', { qos: 1 })
  const msg = await got
  expect(msg.topic).toBe('a/b')
  expect(msg.payload.toString()).toBe('hello')
  expect(msg.packet.qos).toBe(1)
})
