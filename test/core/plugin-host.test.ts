import { describe, expect, test } from 'vitest'
import { createBroker } from '../../src/broker.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { PluginError } from '../../src/errors.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'

const quiet = { logLevel: 'silent' as const, listeners: [], sessions: { store: 'memory' as const } }

describe('plugin host', () => {
  test('a missing dependency fails boot with a PluginError naming both plugins', async () => {
    const child = definePlugin({ name: 'child', dependencies: ['parent'], register () {} })
    const err = await createBroker(quiet, { plugins: [child] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PluginError)
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_DEPENDENCY', plugin: 'child' })
    expect((err as Error).message).toContain('"parent"')
  })

  test('a duplicate name fails boot', async () => {
    const p = definePlugin({ name: 'twice', register () {} })
    await expect(createBroker(quiet, { plugins: [p, p] })).rejects.toMatchObject({ code: 'ERR_PLUGIN_DUPLICATE', plugin: 'twice' })
  })

  test('a plugin that does not register in time fails boot, naming it', async () => {
    const slow = definePlugin({ name: 'slow', register: () => new Promise(() => {}) })
    await expect(createBroker({ ...quiet, pluginTimeoutMs: 50 }, { plugins: [slow] })).rejects.toMatchObject({ code: 'ERR_PLUGIN_TIMEOUT', plugin: 'slow' })
  })

  test('a plugin that throws fails boot with the cause kept', async () => {
    const boom = new Error('boom')
    const bad = definePlugin({ name: 'bad', register () { throw boom } })
    const err = await createBroker(quiet, { plugins: [bad] }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_PLUGIN_REGISTER', plugin: 'bad', cause: boom })
  })

  test('plugins register in order, start after the store is up, and close in reverse', async () => {
    const order: string[] = []
    const make = (name: string) => definePlugin({
      name,
      register (broker) {
        order.push(`register ${name}`)
        broker.onStart(async () => {
          order.push(`start ${name}`)
          await broker.publish({ topic: `started/${name}`, payload: 'x' })
        })
        broker.onClose(() => { order.push(`close ${name}`) })
      },
    })
    const broker = await createBroker(quiet, { plugins: [make('a'), make('b')] })
    await broker.close()
    expect(order).toEqual(['register a', 'register b', 'start a', 'start b', 'close b', 'close a'])
  })

  test('publish before start is refused with ERR_NOT_STARTED', async () => {
    let error: unknown
    const early = definePlugin({
      name: 'early',
      register (broker) {
        try { void broker.publish({ topic: 'x', payload: '' }) } catch (e) { error = e }
      },
    })
    const broker = await createBroker(quiet, { plugins: [early] })
    await broker.close()
    expect(error).toMatchObject({ code: 'ERR_NOT_STARTED' })
  })

  test('usePersistence outside register is refused', async () => {
    let api: Parameters<Parameters<typeof definePlugin>[0]['register']>[0] | undefined
    const p = definePlugin({ name: 'later', register (broker) { api = broker } })
    const broker = await createBroker(quiet, { plugins: [p] })
    expect(() => api?.usePersistence(() => ({}))).toThrow(/only allowed during register/)
    await broker.close()
  })

  test('an unknown hook name throws ERR_HOOK_UNKNOWN', async () => {
    const p = definePlugin({ name: 'typo', register (broker) { broker.hooks.add('authorise' as never, (() => 'allow') as never) } })
    await expect(createBroker(quiet, { plugins: [p] })).rejects.toMatchObject({ code: 'ERR_PLUGIN_REGISTER' })
  })

  test('each plugin logs through a child logger bound to its name', async () => {
    const lines: string[] = []
    const { Writable } = await import('node:stream')
    const sink = new Writable({ write (c: Buffer, _e, done) { lines.push(c.toString()); done() } })
    const p = definePlugin({ name: 'chatty', register (broker) { broker.log.warn({ detail: 1 }, 'hello from plugin') } })
    const broker = await createBroker({ ...quiet, logLevel: 'warn' }, { plugins: [p], logDestination: sink })
    await broker.close()
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'hello from plugin')
    expect(line).toMatchObject({ plugin: 'chatty', detail: 1 })
  })
})

describe('hook chains', () => {
  test('hooks run in registration order; the first decision wins, defer passes on', async () => {
    const calls: string[] = []
    const first = definePlugin({
      name: 'first',
      register (broker) {
        broker.hooks.add('authorizePublish', (_c, packet) => { calls.push('first'); return packet.topic === 'open/x' ? 'allow' : 'defer' })
      },
    })
    const second = definePlugin({
      name: 'second',
      register (broker) {
        broker.hooks.add('authorizePublish', (_c, packet) => { calls.push('second'); return packet.topic.startsWith('closed/') ? 'deny' : 'defer' })
      },
    })
    const broker = await startBroker({}, { plugins: [first, second] })
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('#')
    const received: string[] = []
    sub.on('message', (topic) => received.push(topic))
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('open/x', 'yes', { qos: 1 })
    // A denied publish closes the publisher's connection: MQTT 3.1.1 has no NACK [MQTT-3.3.5-2].
    const closed = new Promise<void>((resolve) => pub.once('close', () => resolve()))
    pub.publish('closed/x', 'no', { qos: 1 })
    await closed
    const sentinel = await connectClient(broker.mqttUrl)
    const got = nextMessage(sub, 'sentinel')
    await sentinel.publishAsync('sentinel', '', { qos: 1 })
    await got
    expect(received).toEqual(['open/x', 'sentinel'])
    expect(calls).toEqual(['first', 'first', 'second', 'first', 'second'])
  })

  test('authorizeSubscribe may rewrite a subscription', async () => {
    const rewrite = definePlugin({
      name: 'rewrite',
      register (broker) {
        broker.hooks.add('authorizeSubscribe', (client, sub) => ({ rewrite: { topic: `tenant/${client.id}/${sub.topic}`, qos: sub.qos } }))
      },
    })
    const broker = await startBroker({}, { plugins: [rewrite] })
    const sub = await connectClient(broker.mqttUrl, { clientId: 'alice' })
    await sub.subscribeAsync('news')
    const got = nextMessage(sub)
    await broker.publish({ topic: 'news', payload: 'not for alice' })
    await broker.publish({ topic: 'tenant/alice/news', payload: 'for alice' })
    expect((await got).payload.toString()).toBe('for alice')
  })

  test('authorizeForward may withhold or change a delivery per client', async () => {
    const censor = definePlugin({
      name: 'censor',
      register (broker) {
        broker.hooks.add('authorizeForward', (client, packet) => {
          if (client.id === 'blocked') return null
          return { ...packet, payload: Buffer.from(String(packet.payload).toUpperCase()) }
        })
      },
    })
    const broker = await startBroker({}, { plugins: [censor] })
    const blocked = await connectClient(broker.mqttUrl, { clientId: 'blocked' })
    const open = await connectClient(broker.mqttUrl, { clientId: 'open' })
    await blocked.subscribeAsync('t')
    await open.subscribeAsync('t')
    let blockedGot = 0
    blocked.on('message', () => { blockedGot++ })
    const got = nextMessage(open)
    await broker.publish({ topic: 't', payload: 'quiet' })
    expect((await got).payload.toString()).toBe('QUIET')
    expect(blockedGot).toBe(0)
  })

  test('authenticate chains: a deny with a code sets the CONNACK return code', async () => {
    const auth = definePlugin({
      name: 'auth',
      register (broker) {
        broker.hooks.add('authenticate', (_c, username) => username === 'ok' ? 'allow' : { deny: 4 })
      },
    })
    const broker = await startBroker({}, { plugins: [auth] })
    await expect(connectClient(broker.mqttUrl, { username: 'bad', password: 'x' })).rejects.toMatchObject({ code: 4 })
    const ok = await connectClient(broker.mqttUrl, { username: 'ok', password: 'x' })
    expect(ok.connected).toBe(true)
  })
})
