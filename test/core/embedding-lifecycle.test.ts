import { Duplex } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { createBroker } from '../../src/broker.js'
import { ConfigError } from '../../src/errors.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { startBroker } from '../helpers/broker.js'
import { captureLog } from '../helpers/log-capture.js'

/** What a gateway that embeds midge sees around start and close. */
describe('embedding: start and close', () => {
  test('a frozen config of the user\'s own is validated like any other (it was taken as already valid)', async () => {
    const broker = await createBroker(Object.freeze({ logLevel: 'silent' as const, listeners: [{ type: 'mqtt' as const, host: '127.0.0.1', port: 0 }], sessions: { store: 'memory' as const } }))
    expect(broker.config.mqtt.maxInflight).toBe(20)
    await broker.close()
    await expect(createBroker(Object.freeze({ logLevel: 'loud' }) as never)).rejects.toBeInstanceOf(ConfigError)
  })

  test('after close(), publish, subscribe and attach are refused with ERR_BROKER_CLOSED, and addresses() lists no listener', async () => {
    const broker = await startBroker()
    expect(broker.addresses().map((a) => a.type)).toEqual(['mqtt', 'ws'])
    await broker.close()
    expect(broker.addresses()).toEqual([])
    await expect(broker.publish({ topic: 'a', payload: 'x' })).rejects.toMatchObject({ code: 'ERR_BROKER_CLOSED' })
    await expect(broker.subscribe('a', () => {})).rejects.toMatchObject({ code: 'ERR_BROKER_CLOSED' })
    expect(() => broker.attach(new Duplex({ read () {}, write (_c, _e, done) { done() } }))).toThrow(expect.objectContaining({ code: 'ERR_BROKER_CLOSED' }))
  })

  test('close() ends an attached stream that never sent CONNECT (its connect timer kept the process alive)', async () => {
    const broker = await startBroker()
    const stream = new Duplex({ read () {}, write (_c, _e, done) { done() } })
    broker.attach(stream, 'idle')
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()))
    await broker.close()
    await closed
    expect(stream.destroyed).toBe(true)
  })

  test('close() ends although a plugin\'s close handler never does: it is logged after pluginTimeoutMs', async () => {
    const capture = captureLog()
    const stuck = definePlugin({ name: 'stuck', register (api) { api.onClose(() => new Promise<void>(() => {})) } })
    const broker = await startBroker({ pluginTimeoutMs: 100 }, { logger: capture.log, plugins: [stuck] })
    await broker.close()
    expect(await capture.waitFor('plugin close handler did not finish in time')).toMatchObject({ level: 50, plugin: 'stuck', timeoutMs: 100 })
  })

  test('/ready answers 503 "stopping" while the broker closes', async () => {
    let release: (() => void) | undefined
    const slow = definePlugin({ name: 'slow-close', register (api) { api.onClose(() => new Promise<void>((resolve) => { release = resolve })) } })
    const broker = await startBroker({ listeners: [{ type: 'http', host: '127.0.0.1', port: 0 }] }, { plugins: [slow] })
    const url = `${broker.addresses().find((a) => a.type === 'http')?.url ?? ''}/ready`
    expect((await fetch(url)).status).toBe(200)
    const closing = broker.close()
    const res = await fetch(url)
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ status: 'stopping' })
    release?.()
    await closing
  })
})

describe('embedding: in-process subscribers', () => {
  test('[MQTT-4.7.2-1] `#` and `+/…` see no `$` topic (aedes\'s own $SYS/<id>/... reached them); `$SYS/#` does', async () => {
    const broker = await startBroker()
    const all: string[] = []
    const plus: string[] = []
    const sys: string[] = []
    await broker.subscribe('#', (m) => { all.push(m.topic) })
    await broker.subscribe('+/x', (m) => { plus.push(m.topic) })
    await broker.subscribe('$SYS/#', (m) => { sys.push(m.topic) })
    await broker.publish({ topic: '$SYS/probe/x', payload: 'sys' })
    await broker.publish({ topic: 'a/x', payload: 'user' })
    expect(all).toEqual(['a/x'])
    expect(plus).toEqual(['a/x'])
    expect(sys).toContain('$SYS/probe/x')
  })
})

describe('embedding: publish and subscribe check their input', () => {
  test('a topic no client may receive, a QoS not 0–2 or a payload that is no bytes is refused (aedes sent them on the wire)', async () => {
    const broker = await startBroker()
    // over 65,535 bytes of UTF-8 a client cannot parse it: every subscriber was disconnected, and a
    // persistent one got it again on every reconnect; a lone surrogate went out as U+FFFD
    for (const topic of ['a/+', '#', '', 'a/\u0000b', 'a/' + 'x'.repeat(65_534), 'a/' + 'é'.repeat(32_767), 'a/\ud800']) {
      await expect(broker.publish({ topic, payload: 'x' })).rejects.toMatchObject({ code: 'ERR_PUBLISH_INVALID' })
    }
    await broker.publish({ topic: 'a/' + 'x'.repeat(65_533), payload: 'x' })
    await expect(broker.publish({ topic: 'a', payload: 'x', qos: 3 as never })).rejects.toMatchObject({ code: 'ERR_PUBLISH_INVALID' })
    await expect(broker.publish({ topic: 'a', payload: 42 as never })).rejects.toMatchObject({ code: 'ERR_PUBLISH_INVALID' })
    await expect(broker.publish({ topic: 'a', payload: 'x', retain: 'yes' as never })).rejects.toMatchObject({ code: 'ERR_PUBLISH_INVALID' })
    await broker.publish({ topic: 'a', payload: Buffer.from([1]) })
    for (const filter of ['', 'a/#/b', 'a+', 'a/' + 'x'.repeat(65_534)]) {
      await expect(broker.subscribe(filter, () => {})).rejects.toMatchObject({ code: 'ERR_FILTER_INVALID' })
    }
  })
})
