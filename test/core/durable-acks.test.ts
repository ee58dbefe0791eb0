/**
 * QoS 1 PUBACK waits for a durable store (src/core/durable-acks.ts), in the
 * order the PUBLISHes arrived [MQTT-4.6.0-2], and never comes for a message
 * the store refused. The store here is aedes's memory store behind a gate on
 * `outgoingEnqueueCombi`, declared durable or not.
 */
import { createRequire } from 'node:module'
import { describe, expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { wrapStoreMethod } from '../helpers/store-method.js'
import { RawClient } from '../helpers/clients.js'
import { rawConnected } from '../conformance/support.js'

const require = createRequire(import.meta.url)
const memoryStore = require('aedes-persistence') as () => object
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: new (factory: () => object) => object }
const AsyncMemoryStore = require('aedes-persistence/asyncPersistence.js') as new () => object

/**
 * A store of its own, as aedes-persistence-redis or -mongodb are: an async
 * class (here a subclass of the memory one) inside aedes-persistence 11's
 * callback adapter, which the memory store uses too.
 */
function adaptedStore (): object {
  class OwnStore extends AsyncMemoryStore {}
  return new CallBackPersistence(() => new OwnStore())
}

interface Gate {
  /** Topics of the publishes waiting at the store, in call order. */
  waiting: string[]
  /** Let the store call for `topic` go on (or fail). */
  open(topic: string, error?: Error): void
  /** Resolves once the store call for `topic` arrived. */
  reached(topic: string): Promise<void>
}

/** A broker whose store holds every enqueue of a `gated/…` topic until the test opens it. */
async function gatedBroker (durable: boolean | undefined, build: () => object = memoryStore): Promise<{ url: string, gate: Gate }> {
  const pending = new Map<string, { go: (error?: Error) => void }>()
  const arrivals = new Map<string, () => void>()
  const waiting: string[] = []
  const gate: Gate = {
    waiting,
    open: (topic, error) => { pending.get(topic)?.go(error) },
    reached: (topic) => pending.has(topic) ? Promise.resolve() : new Promise((resolve) => arrivals.set(topic, resolve)),
  }
  const plugin = definePlugin({
    name: 'gated-store',
    register (broker) {
      broker.usePersistence(() => {
        const store = build() as Record<string, (...args: unknown[]) => Promise<unknown>>
        return new Proxy(store, {
          get (target, prop) {
            const value = Reflect.get(target, prop, target) as unknown
            if (typeof value !== 'function') return value
            if (prop !== 'outgoingEnqueueCombi') return (value as (...a: unknown[]) => unknown).bind(target)
            return async (subs: unknown, packet: { topic: string }) => {
              if (packet.topic.startsWith('gated/')) {
                waiting.push(packet.topic)
                await new Promise<void>((resolve, reject) => {
                  pending.set(packet.topic, { go: (error) => { error === undefined ? resolve() : reject(error) } })
                  arrivals.get(packet.topic)?.()
                })
              }
              return (value as (...a: unknown[]) => Promise<unknown>).call(target, subs, packet)
            }
          },
        })
      }, durable === undefined ? {} : { durable })
    },
  })
  const broker = await startBroker({}, { omitBuiltins: ['persistent-sessions'], plugins: [plugin] })
  return { url: broker.mqttUrl, gate }
}

/** Proves a PUBACK is not there yet: a PINGRESP sent for a later PINGREQ arrives with none before it. */
async function noPubackYet (raw: RawClient): Promise<void> {
  raw.send({ cmd: 'pingreq' })
  await raw.next('pingresp')
  expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
}

/** One QoS 1 publish to a gated topic: no PUBACK while its store call waits, the PUBACK once the call goes on. */
async function pubackWaitsForStore ({ url, gate }: { url: string, gate: Gate }, topic: string, messageId: number): Promise<void> {
  const raw = await rawConnected(url)
  raw.send({ cmd: 'publish', topic, payload: 'x', qos: 1, messageId })
  await gate.reached(topic)
  await noPubackYet(raw)
  gate.open(topic)
  expect(await raw.next('puback')).toMatchObject({ messageId })
}

describe('QoS 1 PUBACK and a durable store', () => {
  test('PUBACK comes only once the store has the message', async () => {
    await pubackWaitsForStore(await gatedBroker(true), 'gated/a', 7)
  })

  test('[MQTT-4.6.0-2] PUBACKs go out in the order the PUBLISHes arrived, whichever store call finishes first', async () => {
    const { url, gate } = await gatedBroker(true)
    const raw = await rawConnected(url)
    raw.send({ cmd: 'publish', topic: 'gated/1', payload: 'x', qos: 1, messageId: 1 })
    raw.send({ cmd: 'publish', topic: 'gated/2', payload: 'x', qos: 1, messageId: 2 })
    raw.send({ cmd: 'publish', topic: 'free/3', payload: 'x', qos: 1, messageId: 3 })
    await gate.reached('gated/1')
    await gate.reached('gated/2')
    gate.open('gated/2')
    await noPubackYet(raw) // 2 and 3 are stored, but 1 is not
    gate.open('gated/1')
    const acks = [await raw.next('puback'), await raw.next('puback'), await raw.next('puback')]
    expect(acks.map((p) => (p as { messageId: number }).messageId)).toEqual([1, 2, 3])
  })

  test('a message the store refuses is never acknowledged; the connection closes', async () => {
    const { url, gate } = await gatedBroker(true)
    const raw = await rawConnected(url)
    raw.send({ cmd: 'publish', topic: 'gated/bad', payload: 'x', qos: 1, messageId: 9 })
    await gate.reached('gated/bad')
    gate.open('gated/bad', new Error('disk full'))
    await raw.closed()
    expect(raw.packets.filter((p) => p.cmd === 'puback')).toEqual([])
  })

  test('a store whose provider does not say is durable unless it is the memory store, though both sit in the same callback adapter', async () => {
    await pubackWaitsForStore(await gatedBroker(undefined, adaptedStore), 'gated/own', 6)
  })

  test('a store declared not durable gets PUBACK at once, as aedes sends it', async () => {
    const { url, gate } = await gatedBroker(false)
    const raw = await rawConnected(url)
    raw.send({ cmd: 'publish', topic: 'gated/a', payload: 'x', qos: 1, messageId: 5 })
    expect(await raw.next('puback')).toMatchObject({ messageId: 5 })
    await gate.reached('gated/a')
    gate.open('gated/a')
  })

  test('QoS 0 and QoS 2 are untouched: PUBREC still follows the store', async () => {
    const { url, gate } = await gatedBroker(true)
    const raw = await rawConnected(url)
    raw.send({ cmd: 'publish', topic: 'gated/q2', payload: 'x', qos: 2, messageId: 4 })
    await gate.reached('gated/q2')
    raw.send({ cmd: 'pingreq' })
    await raw.next('pingresp')
    expect(raw.packets.filter((p) => p.cmd === 'pubrec')).toEqual([])
    gate.open('gated/q2')
    expect(await raw.next('pubrec')).toMatchObject({ messageId: 4 })
  })

  test('aedes-persistence\'s in-memory store (sessions.store memory) is not durable unless declared: PUBACK does not wait', async () => {
    let reached = (): void => {}
    const atStore = new Promise<void>((resolve) => { reached = resolve })
    let release = (): void => {}
    const gate = definePlugin({
      name: 'gate-decorator',
      register (broker) {
        broker.decoratePersistence(wrapStoreMethod('outgoingEnqueueCombi', (original) => async (subs: unknown, packet: { topic: string }) => {
          if (packet.topic === 'gated/mem') {
            reached()
            await new Promise<void>((resolve) => { release = resolve })
          }
          return original(subs, packet)
        }))
      },
    })
    const broker = await startBroker({ sessions: { store: 'memory' } }, { plugins: [gate] })
    const raw = await rawConnected(broker.mqttUrl)
    raw.send({ cmd: 'publish', topic: 'gated/mem', payload: 'x', qos: 1, messageId: 3 })
    await atStore
    expect(await raw.next('puback')).toMatchObject({ messageId: 3 }) // while the store call still waits
    release()
  })
})
