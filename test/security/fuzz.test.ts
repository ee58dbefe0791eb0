import { expect, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient } from '../helpers/clients.js'
import { runFuzz } from './fuzz-lib.js'
import { tempDir, writeAclFile, writePasswordFile } from './support.js'

/** Resolves once `condition` holds, checking after each turn of the event loop. */
async function until (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise<void>((resolve) => setImmediate(resolve))
}

test('5,000 hostile packets over many connections: no crash, no leak, good traffic flows throughout', async () => {
  // Every layer on: packet size guard, passwords (fuzz CONNECTs carry username "u"), ACL on every path.
  const dir = tempDir()
  const passwordFile = await writePasswordFile(dir, { u: 'pw', good: 'g' })
  const aclFile = writeAclFile(dir, ['topic readwrite a/#', 'topic read #', 'user good', 'topic readwrite good/#', 'pattern readwrite fuzz/%c/#'])
  const broker = await startBroker({ limits: { maxPacketSize: 64 * 1024, connectTimeoutMs: 2_000 }, security: { passwordFile, aclFile } })
  const { port } = new URL(broker.mqttUrl)

  // A well-behaved pair keeps a QoS 1 conversation going for the whole run.
  const sub = await connectClient(broker.mqttUrl, { clientId: 'good-sub', username: 'good', password: 'g' })
  await sub.subscribeAsync('good/t', { qos: 1 })
  const pub = await connectClient(broker.wsUrl, { clientId: 'good-pub', username: 'good', password: 'g' })
  const received: number[] = []
  sub.on('message', (_topic, payload) => { received.push(Number(payload.toString())) })
  let fuzzing = true
  let sent = 0
  const conversation = (async () => {
    while (fuzzing) await pub.publishAsync('good/t', String(sent++), { qos: 1 })
  })()

  const heapBefore = process.memoryUsage().heapUsed
  const stats = await runFuzz({ host: '127.0.0.1', port: Number(port), packets: 5_000, perConnection: 40, concurrency: 25, seed: 20240611 })
  fuzzing = false
  await conversation
  await until(() => received.length === sent)

  expect(stats.packets).toBe(5_000)
  expect(stats.connections).toBeGreaterThan(100)
  expect(received).toEqual(Array.from({ length: sent }, (_, i) => i))
  expect(sent).toBeGreaterThan(20) // it really ran alongside
  // every hostile connection is gone: only the two good clients remain
  await until(() => broker.stats().connections === 2)
  expect(broker.stats().connectedClients).toBe(2)
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024)
  // and a newcomer is served
  const late = await connectClient(broker.mqttUrl)
  expect(late.connected).toBe(true)
}, 30_000)
