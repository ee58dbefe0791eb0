/**
 * A persistent session's store holds its subscriptions as granted: a filter
 * refused in the SUBACK queues nothing while the client is away, and a QoS a
 * plugin lowered is the QoS the offline queue uses (spec-stored-subscriptions.ts).
 */
import mqtt from 'mqtt'
import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker, type Broker, type BrokerOptions } from '../../src/broker.js'
import type { BrokerConfigInput } from '../../src/config/schema.js'
import { connectClient, RawClient } from '../helpers/clients.js'
import { generate, rawConnected, rawSubscribe, type Suback } from '../conformance/support.js'
import { wrapStoreMethod } from '../helpers/store-method.js'
import { tempDir } from './helpers.js'

async function startNedbBroker (config: BrokerConfigInput = {}, options: BrokerOptions = {}): Promise<{ broker: Broker, url: string }> {
  const broker = await createBroker({
    logLevel: 'silent',
    dataDir: tempDir(),
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    ...config,
    sessions: { store: 'nedb', ...config.sessions },
  }, options)
  onTestFinished(() => broker.close())
  return { broker, url: broker.addresses()[0]?.url ?? '' }
}

/** Subscribes `clientId` persistently and leaves; resolves with the SUBACK codes. */
async function subscribeAndLeave (url: string, clientId: string, subscriptions: Array<{ topic: string, qos: number }>): Promise<number[]> {
  const raw = await rawConnected(url, { clientId, clean: false })
  const { granted } = await rawSubscribe(raw, subscriptions)
  raw.send({ cmd: 'disconnect' })
  await raw.closed()
  return granted
}

async function publishAll (url: string, topics: string[]): Promise<void> {
  const pub = await connectClient(url, { clientId: 'pub' })
  for (const topic of topics) await pub.publishAsync(topic, topic, { qos: 1 })
  await pub.endAsync()
}

/** Reconnects `clientId`, publishes a live sentinel and returns every topic received up to it. */
async function receivedOnReturn (url: string, clientId: string, sentinel: string): Promise<string[]> {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 0 })
  onTestFinished(() => client.endAsync(true))
  const topics: string[] = []
  const reached = new Promise<void>((resolve) => {
    client.on('message', (topic) => {
      topics.push(topic)
      if (topic === sentinel) resolve()
    })
  })
  await new Promise((resolve, reject) => { client.once('connect', resolve).once('error', reject) })
  await publishAll(url, [sentinel])
  await reached
  await client.endAsync()
  return topics
}

describe('persistent sessions store their subscriptions as granted', () => {
  test('a refused filter queues nothing offline, so it cannot push the granted messages out of a full queue', async () => {
    const { url } = await startNedbBroker({ mqtt: { denySubscribe: ['secret/#'] }, sessions: { maxQueued: 3 } })
    expect(await subscribeAndLeave(url, 'dev', [{ topic: 'ok/#', qos: 1 }, { topic: 'secret/#', qos: 1 }])).toEqual([1, 0x80])
    // Before the fix the refused filter was stored too: the secrets filled the queue, pushed ok/1 out and were delivered.
    await publishAll(url, ['ok/1', 'secret/a', 'secret/b', 'secret/c', 'ok/2'])
    expect(await receivedOnReturn(url, 'dev', 'ok/end')).toEqual(['ok/1', 'ok/2', 'ok/end'])
  })

  test('a filter refused by a plugin hook after a granted one was stored is not stored with it', async () => {
    let release: () => void = () => {}
    const slowDenial = new Promise<void>((resolve) => { release = resolve })
    const { url } = await startNedbBroker({ sessions: { maxQueued: 2 } }, {
      plugins: [{
        name: 'deny-secret-slowly',
        register: (api) => {
          api.hooks.add('authorizeSubscribe', async (_client, sub) => {
            if (!sub.topic.startsWith('secret/')) return 'allow'
            // Decided only after the granted filter's store call went out.
            await slowDenial
            return 'deny'
          })
          api.decoratePersistence(wrapStoreMethod('addSubscriptions', (original) => (...args: unknown[]) => {
            const stored = original(...args)
            release()
            return stored
          }))
        },
      }],
    })
    const suback = subscribeAndLeave(url, 'dev', [{ topic: 'ok/#', qos: 1 }, { topic: 'secret/#', qos: 1 }])
    expect(await suback).toEqual([1, 0x80])
    await publishAll(url, ['ok/1', 'secret/a', 'secret/b', 'ok/2'])
    expect(await receivedOnReturn(url, 'dev', 'ok/end')).toEqual(['ok/1', 'ok/2', 'ok/end'])
  })

  test('a slow filter of one SUBSCRIBE does not store its sibling again over a later SUBSCRIBE of that filter', async () => {
    let release: () => void = () => {}
    const slowGrant = new Promise<void>((resolve) => { release = resolve })
    const { url } = await startNedbBroker({}, {
      plugins: [{
        name: 'grant-slow-slowly',
        register: (api) => {
          api.hooks.add('authorizeSubscribe', async (_client, sub) => {
            if (sub.topic === 'slow/#') await slowGrant
            return 'allow' as const
          })
        },
      }],
    })
    const raw = await rawConnected(url, { clientId: 'dev', clean: false })
    // One read: aedes handles both packets at once.
    raw.writeRaw(Buffer.concat([
      generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 1 }, { topic: 'slow/#', qos: 1 }] }),
      generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a/#', qos: 0 }] }),
    ]))
    await raw.next('suback', (p: Suback) => p.messageId === 2)
    release()
    await raw.next('suback', (p: Suback) => p.messageId === 1)
    raw.send({ cmd: 'disconnect' })
    await raw.closed()
    // a/# is QoS 0 now. Before the fix slow/#'s store call stored the older a/# QoS 1 again, so a/1 was queued.
    await publishAll(url, ['a/1'])
    expect(await receivedOnReturn(url, 'dev', 'slow/end')).toEqual(['slow/end'])
  })

  test('a subscription a plugin lowered to QoS 0 queues nothing offline', async () => {
    const { url } = await startNedbBroker({}, {
      plugins: [{
        name: 'qos0-for-telemetry',
        register: (api) => {
          api.hooks.add('authorizeSubscribe', (_client, sub) => (sub.topic.startsWith('tele/') ? { rewrite: { ...sub, qos: 0 } } : 'allow'))
        },
      }],
    })
    await subscribeAndLeave(url, 'dev', [{ topic: 'tele/#', qos: 1 }, { topic: 'cmd/#', qos: 1 }])
    await publishAll(url, ['tele/1', 'cmd/1'])
    expect(await receivedOnReturn(url, 'dev', 'cmd/end')).toEqual(['cmd/1', 'cmd/end'])
  })
})

describe('a returning session is granted only what it would be granted now', () => {
  test('a stored filter refused after a restart is removed from the store', async () => {
    const dataDir = tempDir()
    const before = await startNedbBroker({ dataDir })
    expect(await subscribeAndLeave(before.url, 'dev', [{ topic: 'ok/#', qos: 1 }, { topic: 'secret/#', qos: 1 }])).toEqual([1, 1])
    await publishAll(before.url, ['secret/before', 'ok/before'])
    await before.broker.close()
    // The operator closes secret/# and restarts.
    const after = await startNedbBroker({ dataDir, mqtt: { denySubscribe: ['secret/#'] } })
    // Queued while the filter was granted: it goes out once more (an ACL's read rules would withhold it).
    expect(await receivedOnReturn(after.url, 'dev', 'ok/end')).toEqual(['secret/before', 'ok/before', 'ok/end'])
    // Before the fix the refused filter stayed stored: it went on queueing, and the queue was delivered on every return.
    await publishAll(after.url, ['secret/after', 'ok/after'])
    expect(await receivedOnReturn(after.url, 'dev', 'ok/end2')).toEqual(['ok/after', 'ok/end2'])
    expect(await after.broker.metrics.metrics()).toContain('\nmidge_subscriptions 1\n')
  })

  test('a hook that fails while a session returns closes that connection and leaves the store alone', async () => {
    let aclDown = false
    const { url } = await startNedbBroker({}, {
      plugins: [{
        name: 'remote-acl',
        register: (api) => {
          api.hooks.add('authorizeSubscribe', async () => {
            if (aclDown) throw new Error('ACL service unreachable')
            return 'allow' as const
          })
        },
      }],
    })
    await subscribeAndLeave(url, 'dev', [{ topic: 'cmd/#', qos: 1 }])
    // The device comes back while the ACL service has a hiccup: closed before CONNACK, as if refused nothing.
    aclDown = true
    const blip = await RawClient.open(url)
    blip.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'dev', keepalive: 60 })
    await blip.closed()
    expect(blip.packets.filter((p) => p.cmd === 'connack')).toEqual([])
    aclDown = false
    // Before the fix the failure counted as a refusal: cmd/# was removed from the store, so the
    // device (told its session was present) never got anything again.
    await publishAll(url, ['cmd/reboot'])
    expect(await receivedOnReturn(url, 'dev', 'cmd/end')).toEqual(['cmd/reboot', 'cmd/end'])
  })

  test('a stored QoS 1 filter lowered to QoS 0 after a restart stops queueing', async () => {
    const dataDir = tempDir()
    const before = await startNedbBroker({ dataDir })
    await subscribeAndLeave(before.url, 'dev', [{ topic: 'ok/#', qos: 1 }])
    await before.broker.close()
    const lowered = await startNedbBroker({ dataDir, mqtt: { maxQos: 0 } })
    expect(await receivedOnReturn(lowered.url, 'dev', 'ok/end')).toEqual(['ok/end'])
    await publishAll(lowered.url, ['ok/while-qos0'])
    await lowered.broker.close()
    // Before the fix the store kept QoS 1, so the message was queued and came back once QoS 1 was allowed again.
    const again = await startNedbBroker({ dataDir })
    expect(await receivedOnReturn(again.url, 'dev', 'ok/end2')).toEqual(['ok/end2'])
  })
})

test('the nedb store counts only granted filters in midge_subscriptions', async () => {
  const { broker, url } = await startNedbBroker({ mqtt: { denySubscribe: ['secret/#'] } })
  await subscribeAndLeave(url, 'dev', [{ topic: 'ok/#', qos: 1 }, { topic: 'secret/#', qos: 1 }, { topic: 'more/+', qos: 0 }])
  expect(await broker.metrics.metrics()).toContain('\nmidge_subscriptions 2\n')
})
