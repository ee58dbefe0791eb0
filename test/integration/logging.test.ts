import { expect, test } from 'vitest'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { logSink, startBroker } from '../helpers/broker.js'

test('connection lines carry the client id; passwords and payloads never reach the log', async () => {
  const sink = logSink()
  const broker = await startBroker({ logLevel: 'trace' }, { logDestination: sink.stream })
  const client = await connectClient(broker.mqttUrl, { clientId: 'sensor-42', username: 'dev', password: 'hunter2-secret' })
  await client.subscribeAsync('t')
  const got = nextMessage(client)
  await client.publishAsync('t', 'payload-secret-xyz', { qos: 1 })
  await got
  await client.endAsync()
  await broker.close()
  const text = sink.lines.map((l) => JSON.stringify(l)).join('\n')
  expect(sink.lines.some((l) => l.msg === 'client connected' && l.clientId === 'sensor-42' && l.username === 'dev')).toBe(true)
  expect(text).not.toContain('hunter2-secret')
  expect(text).not.toContain('payload-secret-xyz')
})
