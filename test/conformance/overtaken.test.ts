/**
 * [MQTT-4.3.2-1] a QoS 1 message acknowledged to its publisher reaches its
 * subscriber even when a newer message overtook it on the way (aedes took it
 * for a duplicate of the newer one and dropped it; found by an outside probe).
 */
import { expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { wrapStoreMethod } from '../helpers/store-method.js'

/** Holds the queueing of messages to `topic` in the store until `release()`, as a slow disk or Redis would. */
function slowStoreFor (topic: string): { plugin: ReturnType<typeof definePlugin>, reached: Promise<void>, release: () => void } {
  let release = (): void => {}
  let reached = (): void => {}
  const atStore = new Promise<void>((resolve) => { reached = resolve })
  const held = new Promise<void>((resolve) => { release = resolve })
  const plugin = definePlugin({
    name: 'slow-store',
    register (broker) {
      broker.decoratePersistence(wrapStoreMethod('outgoingEnqueueCombi', (original) => async (subs: unknown, packet: { topic: string }) => {
        if (packet.topic === topic) {
          reached()
          await held
        }
        return original(subs, packet)
      }))
    },
  })
  return { plugin, reached: atStore, release: () => { release() } }
}

for (const clean of [false, true]) {
  test(`a QoS 1 message overtaken by a QoS 0 one from another publisher still reaches a ${clean ? 'clean' : 'persistent'} session`, async () => {
    const slow = slowStoreFor('plant/alarm')
    const broker = await startBroker({ sessions: { store: 'memory' } }, { plugins: [slow.plugin] })
    const sub = await connectClient(broker.mqttUrl, { clientId: `overtaken-${String(clean)}`, clean })
    // (a clean subscriber: another client's persistent session makes the store queue the message)
    const persistent = await connectClient(broker.mqttUrl, { clientId: 'overtaken-other', clean: false })
    await persistent.subscribeAsync('plant/#', { qos: 1 })
    await sub.subscribeAsync('plant/#', { qos: 1 })
    const alarms = await connectClient(broker.mqttUrl)
    const telemetry = await connectClient(broker.mqttUrl)

    const acked = alarms.publishAsync('plant/alarm', 'overheat', { qos: 1 })
    await slow.reached
    const first = nextMessage(sub)
    await telemetry.publishAsync('plant/temp', '97', { qos: 0 })
    expect((await first).topic).toBe('plant/temp')
    const later: string[] = []
    sub.on('message', (topic) => later.push(topic))
    const end = nextMessage(sub, 'plant/end')
    slow.release()
    await acked
    // a later message from the same publisher comes after it (one connection, in order): a loss shows at once
    await alarms.publishAsync('plant/end', 'end', { qos: 1 })
    await end
    expect(later).toEqual(['plant/alarm', 'plant/end'])
  })
}

test('a message that overlapping subscriptions match still comes once', async () => {
  const broker = await startBroker()
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync({ 'dup/+': { qos: 1 }, 'dup/#': { qos: 1 } })
  const got: string[] = []
  sub.on('message', (_t, payload) => got.push(payload.toString()))
  const end = nextMessage(sub, 'dup/end')
  const pub = await connectClient(broker.mqttUrl)
  for (const payload of ['one', 'two']) await pub.publishAsync('dup/a', payload, { qos: 1 })
  await pub.publishAsync('dup/end', 'end', { qos: 1 })
  await end
  // every copy of the first two came before the last one (one connection, in order)
  expect(got).toEqual(['one', 'two', 'end'])
})

test('a message still comes once when a handler publishes between its copies', async () => {
  // an in-process subscriber that relays synchronously: the emitter routes the relayed message inside
  // the loop over the first message's matches, between the client's two subscriptions
  const relay = definePlugin({
    name: 'relay',
    register (broker) {
      broker.onStart(async () => {
        await broker.subscribe('in/a', () => { void broker.publish({ topic: 'out/x', payload: 'relayed', qos: 0 }) })
      })
    },
  })
  const broker = await startBroker({}, { plugins: [relay] })
  const sub = await connectClient(broker.mqttUrl)
  await sub.subscribeAsync({ 'in/+': { qos: 1 }, 'in/#': { qos: 1 }, 'out/#': { qos: 0 } })
  const got: string[] = []
  sub.on('message', (topic, payload) => got.push(`${topic}:${payload.toString()}`))
  const end = nextMessage(sub, 'in/end')
  const pub = await connectClient(broker.mqttUrl)
  await pub.publishAsync('in/a', 'one', { qos: 1 })
  await pub.publishAsync('in/end', 'end', { qos: 1 })
  await end
  expect(got).toEqual(['in/a:one', 'out/x:relayed', 'in/end:end'])
})
