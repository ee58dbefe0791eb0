import { describe, expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { BrokerEvents, type BrokerEventMap } from '../../src/core/events.js'
import { collectMessages, connectClient } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'

/**
 * Listeners observe and hooks decide, from inside aedes's packet handling: a
 * throw there must be reported, not end the process or stop the traffic.
 * (vitest fails a test on an uncaught exception, which is what the old code
 * raised.)
 */
describe('a throwing listener or hook', () => {
  const throwing: Array<keyof BrokerEventMap> = ['clientReady', 'publish', 'deliver', 'subscribe', 'ack']
  for (const event of throwing) {
    test(`a ${event} listener that throws is logged; clients connect and messages arrive`, async () => {
      const capture = captureLog()
      const broker = await startBroker({}, { logger: capture.log })
      broker.on(event, () => { throw new Error(`listener of ${event} broke`) })
      const sub = await connectClient(broker.mqttUrl, { clientId: 'sub' })
      await sub.subscribeAsync('t/#', { qos: 1 })
      const got = collectMessages(sub, 2)
      const pub = await connectClient(broker.mqttUrl, { clientId: 'pub' })
      await pub.publishAsync('t/1', 'one', { qos: 1 })
      await pub.publishAsync('t/2', 'two', { qos: 0 })
      expect((await got).map((m) => m.payload.toString())).toEqual(['one', 'two'])
      const line = await capture.waitFor('a broker event listener threw')
      expect(line).toMatchObject({ level: 50, event })
      await Promise.all([sub.endAsync(), pub.endAsync()])
    })
  }

  test('an error event with nobody listening does not throw', async () => {
    let emit: (() => boolean) | undefined
    const plugin = definePlugin({ name: 'reporter', register (api) { emit = () => api.events.emit('error', new Error('store failed')) } })
    await startBroker({}, { plugins: [plugin] })
    expect(emit?.()).toBe(false)
  })

  test('an authorizeForward hook that throws withholds that delivery, logged; other clients get theirs', async () => {
    const capture = captureLog()
    const picky = definePlugin({
      name: 'picky',
      register (api) {
        api.hooks.add('authorizeForward', (client) => {
          if (client.id === 'victim') throw new Error('hook broke')
          return undefined
        })
      },
    })
    const broker = await startBroker({}, { logger: capture.log, plugins: [picky] })
    const victim = await connectClient(broker.mqttUrl, { clientId: 'victim' })
    const other = await connectClient(broker.mqttUrl, { clientId: 'other' })
    await victim.subscribeAsync('f/#', { qos: 1 })
    await other.subscribeAsync('f/#', { qos: 1 })
    const got = collectMessages(other, 1)
    const pub = await connectClient(broker.mqttUrl, { clientId: 'pub' })
    await pub.publishAsync('f/1', 'x', { qos: 1 })
    expect((await got)[0]?.payload.toString()).toBe('x')
    expect(await capture.waitFor('authorizeForward hook failed')).toMatchObject({ level: 50, clientId: 'victim', topic: 'f/1' })
    await Promise.all([victim.endAsync(), other.endAsync(), pub.endAsync()])
  })
})

describe('once and off', () => {
  test('a once listener runs once, and off removes it before it fires', () => {
    const events = new BrokerEvents()
    const seen: string[] = []
    const a = (): void => { seen.push('a') }
    const b = (): void => { seen.push('b') }
    events.once('error', a).once('error', b).off('error', b)
    events.emit('error', new Error('1'))
    events.emit('error', new Error('2'))
    expect(seen).toEqual(['a'])
    expect(events.listenerCount('error')).toBe(0)
  })
})
