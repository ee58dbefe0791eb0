import mqtt from 'mqtt'
import { describe, expect, onTestFinished, test } from 'vitest'
import persistentSessions, { NedbPersistence } from '../../plugins/persistent-sessions/index.js'
import { createBroker, type Broker } from '../../src/broker.js'
import { validateConfig } from '../../src/config/load.js'
import { BrokerEvents, type DropEvent } from '../../src/core/events.js'
import type { BrokerApi, PersistenceFactory } from '../../src/core/plugin-api.js'
import type { ClientInfo } from '../../src/core/message.js'
import { createMetricsRegistry } from '../../src/sys/metrics.js'
import { collectMessages, connectClient } from '../helpers/clients.js'
import { captureLog, tempDir } from './helpers.js'

async function startBroker (dataDir: string, sessions: Record<string, unknown> = {}): Promise<{ broker: Broker, url: string }> {
  const broker = await createBroker({
    logLevel: 'silent',
    dataDir,
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    sessions: { store: 'nedb', ...sessions },
  })
  onTestFinished(() => broker.close())
  return { broker, url: broker.addresses()[0]?.url ?? '' }
}

describe('persistent-sessions plugin', () => {
  test('a persistent session gets its backlog, in order and byte for byte, after a broker restart', async () => {
    const dataDir = tempDir()
    const first = await startBroker(dataDir)
    const sub = await connectClient(first.url, { clientId: 'sub', clean: false })
    await sub.subscribeAsync('q/#', { qos: 2 })
    await sub.endAsync()

    const pub = await connectClient(first.url, { clientId: 'pub' })
    const payloads = [Buffer.from([0, 255, 1, 254]), Buffer.from('zwei'), Buffer.alloc(300, 7)]
    await pub.publishAsync('q/1', payloads[0] as Buffer, { qos: 1 })
    await pub.publishAsync('q/2', payloads[1] as Buffer, { qos: 2 })
    await pub.publishAsync('q/3', payloads[2] as Buffer, { qos: 1 })
    await pub.publishAsync('r/kept', 'retained', { qos: 1, retain: true })
    await pub.endAsync()
    await first.broker.close()

    const second = await startBroker(dataDir)
    // listen before the CONNACK: the backlog follows it immediately
    const back = mqtt.connect(second.url, { clientId: 'sub', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => back.endAsync(true))
    // wire order (MQTT.js emits a QoS 2 message only at PUBREL, so 'message' order differs)
    const wire: string[] = []
    back.on('packetreceive', (p) => { if (p.cmd === 'publish') wire.push(p.topic) })
    const received = collectMessages(back, 3)
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
    expect(connack.sessionPresent).toBe(true)
    const messages = (await received).sort((a, b) => a.topic.localeCompare(b.topic))
    expect(wire).toEqual(['q/1', 'q/2', 'q/3'])
    messages.forEach((m, i) => expect(m.payload.equals(payloads[i] as Buffer)).toBe(true))

    const reader = await connectClient(second.url, { clientId: 'reader' })
    const retained = collectMessages(reader, 1)
    await reader.subscribeAsync('r/#', { qos: 1 })
    expect((await retained)[0]?.payload.toString()).toBe('retained')
  })

  test('queue overflow is reported as a drop event with the message', async () => {
    const { broker, url } = await startBroker(tempDir(), { maxQueued: 2 })
    const sub = await connectClient(url, { clientId: 'slow', clean: false })
    await sub.subscribeAsync('jobs/#', { qos: 1 })
    await sub.endAsync()

    const drops: DropEvent[] = []
    broker.on('drop', (e) => drops.push(e))
    await broker.publish({ topic: 'jobs/a', payload: 'a', qos: 1, properties: { priority: 5 } })
    await broker.publish({ topic: 'jobs/b', payload: Buffer.from('b'), qos: 1, properties: { priority: 1, attempts: 0 } })
    await broker.publish({ topic: 'jobs/c', payload: 'c', qos: 1, properties: { priority: 9 } })

    expect(drops).toHaveLength(1)
    expect(drops[0]).toMatchObject({ reason: 'queue_full', clientId: 'slow', message: { topic: 'jobs/b', qos: 1, retain: false, properties: { priority: 1, attempts: 0 } } })
    expect(drops[0]?.message.payload).toEqual(Buffer.from('b'))
  })

  test('the plugin tells the store which clients are online and when they left', async () => {
    const config = validateConfig({ logLevel: 'silent', dataDir: tempDir(), listeners: [] })
    const events = new BrokerEvents()
    let factory: PersistenceFactory | undefined
    const closers: Array<() => unknown> = []
    const api = {
      id: 'b', log: captureLog().log, config, events, metrics: createMetricsRegistry(),
      usePersistence: (f: PersistenceFactory) => { factory = f },
      onClose: (f: () => unknown) => { closers.push(f) },
      addReadinessCheck: () => {},
    } as unknown as BrokerApi
    await persistentSessions.register(api, { ...config.sessions, store: 'nedb' })
    const store = await factory?.({ brokerId: 'b', log: api.log }) as NedbPersistence
    expect(store).toBeInstanceOf(NedbPersistence)
    await store.setup({ id: 'b' })
    onTestFinished(() => store.destroy())

    const client = { id: 'dev-1', clean: false } as ClientInfo
    events.emit('clientReady', client)
    await store.addSubscriptions(client, [{ topic: 't', qos: 1 }])
    expect(store.lastSeen('dev-1')).toBeUndefined()
    const before = Date.now()
    events.emit('clientDisconnect', client)
    expect(store.lastSeen('dev-1')).toBeGreaterThanOrEqual(before)
    events.emit('clientReady', client)
    expect(store.lastSeen('dev-1')).toBeUndefined()
    for (const close of closers) await close()
  })
})
