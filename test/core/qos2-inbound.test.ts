/**
 * Inbound QoS 2 bookkeeping in the core store decorator (spec-qos2-inbound.ts):
 * a clean session's new PUBLISHes are not looked up in the store, and
 * exactly-once [MQTT-4.3.3-2] still holds on every path that does look: a
 * persistent session's message stored before a reconnect and the end of a
 * clean session [MQTT-3.1.2-6]. Re-sends after PUBREC and in the same read,
 * for clean and persistent sessions: conformance/publish.test.ts.
 */
import { describe, expect, test } from 'vitest'
import { definePlugin, type BrokerConfigInput } from '../../src/index.js'
import { startBroker } from '../helpers/broker.js'
import { wrapStoreMethod } from '../helpers/store-method.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { generate, rawConnected, receivedUntil, serverDisconnect, uniqueId } from '../conformance/support.js'

/** A plugin that counts the store's inbound QoS 2 lookups, as aedes makes them below the core. */
function lookupCounter (): { plugin: ReturnType<typeof definePlugin>, lookups: number[] } {
  const lookups: number[] = []
  const plugin = definePlugin({
    name: 'count-incoming-lookups',
    register (broker) {
      broker.decoratePersistence(wrapStoreMethod('incomingGetPacket', (original) => (client: unknown, packet: { messageId: number }) => {
        lookups.push(packet.messageId)
        return original(client, packet)
      }))
    },
  })
  return { plugin, lookups }
}

/** PUBLISH QoS 2 → PUBREC → PUBREL → PUBCOMP. */
async function exchange (raw: RawClient, topic: string, payload: string, messageId: number): Promise<void> {
  raw.send({ cmd: 'publish', topic, payload, qos: 2, messageId })
  await raw.next('pubrec', (p) => (p as { messageId?: number }).messageId === messageId)
  raw.send({ cmd: 'pubrel', messageId })
  await raw.next('pubcomp', (p) => (p as { messageId?: number }).messageId === messageId)
}

test.each([{ session: 'clean', clean: true }, { session: 'persistent', clean: false }])('a store failure on the first of several copies in one read still forwards the message once ($session session)', async ({ clean }) => {
  let failed = false
  const flaky = definePlugin({
    name: 'flaky-incoming-store',
    register (broker) {
      broker.decoratePersistence(wrapStoreMethod('incomingStorePacket', (original) => (client: unknown, packet: unknown) => {
        if (failed) return original(client, packet)
        failed = true
        return Promise.reject(new Error('transient store failure'))
      }))
    },
  })
  const broker = await startBroker({}, { plugins: [flaky] })
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync('flaky/#', { qos: 2 })
  const got = receivedUntil(sub, 'flaky/sentinel')
  const raw = await rawConnected(broker.mqttUrl, { clientId: uniqueId(), clean })
  const copy = (dup: boolean): Buffer => generate({ cmd: 'publish', topic: 'flaky/a', payload: 'once', qos: 2, messageId: 7, dup })
  raw.writeRaw(Buffer.concat([copy(false), copy(true), copy(true), copy(true)]))
  await raw.closed() // the failed store is an error: the connection ends
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('flaky/sentinel', 'end', { qos: 0 })
  // The first copy was never stored nor forwarded; of the re-sends, exactly one is.
  expect((await got).map((m) => m.payload.toString())).toEqual(['once'])
})

describe.each<{ store: 'memory' | 'nedb' }>([{ store: 'memory' }, { store: 'nedb' }])('sessions.store $store', ({ store }) => {
  const config: BrokerConfigInput = { sessions: { store } }

  test('a clean session\'s new QoS 2 PUBLISH is not looked up in the store; its PUBREL is', async () => {
    const { plugin, lookups } = lookupCounter()
    const broker = await startBroker(config, { plugins: [plugin] })
    const raw = await rawConnected(broker.mqttUrl)
    await exchange(raw, 'fast/a', '1', 21)
    await exchange(raw, 'fast/a', '2', 22)
    expect(lookups).toEqual([21, 22]) // one per PUBREL, none per PUBLISH
  })

  test('a persistent session\'s QoS 2 PUBLISHes are looked up, and one stored before a reconnect is not forwarded again', async () => {
    const { plugin, lookups } = lookupCounter()
    const broker = await startBroker(config, { plugins: [plugin] })
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('kept/#', { qos: 2 })
    const got = receivedUntil(sub, 'kept/sentinel')
    const id = uniqueId()
    const first = await rawConnected(broker.mqttUrl, { clientId: id, clean: false })
    first.send({ cmd: 'publish', topic: 'kept/a', payload: 'once', qos: 2, messageId: 5 })
    await first.next('pubrec')
    const gone = serverDisconnect(broker, id)
    first.socket.destroy() // no PUBREL
    await gone
    const again = await RawClient.open(broker.mqttUrl)
    expect((await again.connect({ clientId: id, clean: false })).returnCode).toBe(0)
    again.send({ cmd: 'publish', topic: 'kept/a', payload: 'once', qos: 2, messageId: 5, dup: true })
    await again.next('pubrec')
    again.send({ cmd: 'pubrel', messageId: 5 })
    await again.next('pubcomp')
    again.send({ cmd: 'publish', topic: 'kept/sentinel', payload: 'end', qos: 0 })
    expect((await got).map((m) => m.payload.toString())).toEqual(['once'])
    expect(lookups.filter((m) => m === 5).length).toBeGreaterThanOrEqual(2) // the first PUBLISH and the re-send
  })

  test('[MQTT-3.1.2-6] a clean session that reconnects starts afresh: an id stored but not released before is a new message', async () => {
    const broker = await startBroker(config)
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('fresh/#', { qos: 2 })
    const got = receivedUntil(sub, 'fresh/sentinel')
    const id = uniqueId()
    const first = await rawConnected(broker.mqttUrl, { clientId: id })
    first.send({ cmd: 'publish', topic: 'fresh/a', payload: 'before', qos: 2, messageId: 6 })
    await first.next('pubrec')
    const gone = serverDisconnect(broker, id)
    first.socket.destroy()
    await gone
    const again = await rawConnected(broker.mqttUrl, { clientId: id })
    await exchange(again, 'fresh/a', 'after', 6)
    again.send({ cmd: 'publish', topic: 'fresh/sentinel', payload: 'end', qos: 0 })
    expect((await got).map((m) => m.payload.toString())).toEqual(['before', 'after'])
  })
})
