/**
 * §4.4 message delivery retry and §2.3.1 packet identifiers across a
 * reconnect and a broker restart (src/core/spec-resend.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, onTestFinished, test, vi } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { type PublishIn, rawConnected, rawSubscribe, serverDisconnect, uniqueId } from './support.js'

test('[MQTT-3.3.1-1] a message re-sent after a broker restart has DUP 1 and its packet id', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-conformance-'))
  onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  const config = { dataDir, sessions: { store: 'nedb' as const } }
  const id = uniqueId()
  const before = await startBroker(config)
  const sub = await rawConnected(before.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(sub, [{ topic: 'restart/#', qos: 1 }])
  const pub = await connectClient(before.mqttUrl)
  await pub.publishAsync('restart/a', 'x', { qos: 1 })
  const sent = await sub.next('publish') as PublishIn
  expect(sent.dup).toBe(false)
  await before.close() // no PUBACK; what the broker knew in memory is gone
  const after = await startBroker(config)
  const again = await RawClient.open(after.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  expect(await again.next('publish')).toMatchObject({ topic: 'restart/a', messageId: sent.messageId, dup: true, qos: 1 })
})

test('[MQTT-2.3.1-4] a new delivery after a reconnect does not take the packet id of a re-sent, unacknowledged one', async () => {
  // aedes starts each connection's id counter at Math.random(): pin it, so the second
  // connection starts where the first did, at the ids the re-sends still hold.
  const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
  onTestFinished(() => { random.mockRestore() })
  const broker = await startBroker()
  const id = uniqueId()
  const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
  await rawSubscribe(first, [{ topic: 'ids/#', qos: 1 }])
  const pub = await connectClient(broker.mqttUrl)
  for (const n of [0, 1, 2]) await pub.publishAsync('ids/old', String(n), { qos: 1 })
  const old = [await first.next('publish'), await first.next('publish'), await first.next('publish')] as PublishIn[]
  const gone = serverDisconnect(broker, id)
  first.socket.destroy() // none acknowledged
  await gone
  const again = await RawClient.open(broker.mqttUrl)
  await again.connect({ clientId: id, clean: false })
  const resent = [await again.next('publish'), await again.next('publish'), await again.next('publish')] as PublishIn[]
  expect(resent.map((p) => [p.messageId, p.dup])).toEqual(old.map((p) => [p.messageId, true]))
  await pub.publishAsync('ids/new', 'n', { qos: 1 })
  const fresh = await again.next('publish') as PublishIn
  expect(fresh.topic).toBe('ids/new')
  expect(resent.map((p) => p.messageId)).not.toContain(fresh.messageId)
  // Once acknowledged, an id is free again.
  for (const p of [...resent, fresh]) again.send({ cmd: 'puback', messageId: p.messageId })
  await pub.publishAsync('ids/new', 'n2', { qos: 1 })
  expect(await again.next('publish')).toMatchObject({ topic: 'ids/new', dup: false })
})
