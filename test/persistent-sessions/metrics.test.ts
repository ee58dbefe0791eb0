import { statSync } from 'node:fs'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker, type Broker } from '../../src/broker.js'
import type { Plugin } from '../../src/core/plugin-api.js'
import { collectMessages, connectClient } from '../helpers/clients.js'
import { countEvents, scrape, sysRecorder } from '../sys/helpers.js'
import { tempDir } from './helpers.js'

/**
 * The figures the nedb session store owns, read the way operators read
 * them — `GET /metrics` and `$SYS/broker/...` — after known traffic and
 * after a restart on the same data directory.
 */

interface Started { broker: Broker, url: string, metricsUrl: string }

async function start (dataDir: string, opts: { sysInterval?: number, sessionExpiry?: number, plugins?: Array<Plugin<never>> } = {}): Promise<Started> {
  const broker = await createBroker({
    logLevel: 'silent',
    dataDir,
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }],
    sys: { interval: opts.sysInterval ?? 0 },
    sessions: { store: 'nedb', ...(opts.sessionExpiry !== undefined ? { sessionExpiry: opts.sessionExpiry } : {}) },
  }, { plugins: opts.plugins ?? [] })
  onTestFinished(() => broker.close())
  const address = (type: string): string => broker.addresses().find((a) => a.type === type)?.url ?? ''
  return { broker, url: address('mqtt'), metricsUrl: `${address('http')}/metrics` }
}

/** Two persistent sessions away, three QoS 1 messages (10 + 20 + 30 bytes) queued for each, two retained messages (5 + 3 bytes). */
async function knownTraffic (url: string): Promise<void> {
  for (const clientId of ['away-a', 'away-b']) {
    const sub = await connectClient(url, { clientId, clean: false })
    await sub.subscribeAsync('m/#', { qos: 1 })
    await sub.endAsync()
  }
  const pub = await connectClient(url, { clientId: 'pub' })
  for (const size of [10, 20, 30]) await pub.publishAsync('m/x', Buffer.alloc(size, 1), { qos: 1 })
  await pub.publishAsync('m/x', Buffer.alloc(99, 1), { qos: 0 }) // QoS 0: never queued
  await pub.publishAsync('r/1', Buffer.alloc(5, 1), { qos: 0, retain: true })
  await pub.publishAsync('r/2', Buffer.alloc(7, 1), { qos: 0, retain: true })
  await pub.publishAsync('r/2', Buffer.alloc(3, 1), { qos: 0, retain: true }) // replaces the 7 bytes
  await pub.publishAsync('r/3', Buffer.alloc(4, 1), { qos: 0, retain: true })
  await pub.publishAsync('r/3', Buffer.alloc(0), { qos: 0, retain: true }) // clears r/3 [MQTT-3.3.1-10]
  await pub.endAsync()
}

const expected = {
  midge_session_queued_messages: 6,
  midge_store_messages: 3 + 2,
  midge_store_message_bytes: 60 + 8,
  midge_retained_messages: 2,
  midge_clients_disconnected: 2,
  midge_clients_expired_total: 0,
  midge_subscriptions: 2,
}

async function figures (metricsUrl: string): Promise<Record<string, number | undefined>> {
  const { value } = await scrape(metricsUrl)
  return Object.fromEntries(['midge_session_queued_messages', 'midge_store_messages', 'midge_store_message_bytes', 'midge_retained_messages',
    'midge_clients_disconnected', 'midge_clients_expired_total', 'midge_store_bytes', 'midge_session_oldest_queued_age_seconds', 'midge_subscriptions'].map((k) => [k, value(k)]))
}

/**
 * midge_store_bytes once the file stops changing under it (acks are written
 * a moment after they are processed): the figure must then be the file size.
 * Fails if the two never agree.
 */
async function storeBytesMatchesFile (metricsUrl: string, file: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = (await scrape(metricsUrl)).value('midge_store_bytes')
    const size = statSync(file).size
    const after = (await scrape(metricsUrl)).value('midge_store_bytes')
    if (before === size && after === size) return size
  }
  throw new Error(`midge_store_bytes never matched the size of ${file}`)
}

describe('session store figures in /metrics and $SYS', () => {
  test('exact after known traffic, the same after a restart, back to 0 once the sessions drain', async () => {
    const dataDir = tempDir()
    const file = join(dataDir, 'sessions.db')
    const first = await start(dataDir)
    const t0 = Date.now()
    await knownTraffic(first.url)
    const before = await figures(first.metricsUrl)
    expect(before).toMatchObject(expected)
    await storeBytesMatchesFile(first.metricsUrl, file)
    expect(before.midge_session_oldest_queued_age_seconds).toBeGreaterThan(0)
    await first.broker.close()

    const second = await start(dataDir)
    const after = await figures(second.metricsUrl)
    expect(after).toMatchObject(expected)
    await storeBytesMatchesFile(second.metricsUrl, file)
    // the queue time survived the restart: the oldest message is as old as the first publish
    expect(after.midge_session_oldest_queued_age_seconds).toBeGreaterThanOrEqual(before.midge_session_oldest_queued_age_seconds ?? 0)
    expect(after.midge_session_oldest_queued_age_seconds).toBeLessThanOrEqual((Date.now() - t0) / 1000)

    // a clean session's subscriptions count while it is connected, and go with it
    const passer = await connectClient(second.url, { clientId: 'passer' })
    await passer.subscribeAsync(['p/1', 'p/2'], { qos: 1 })
    expect(await figures(second.metricsUrl)).toMatchObject({ midge_subscriptions: 4 })
    const passerGone = countEvents(second.broker, 'clientDisconnect', 1)
    await passer.endAsync()
    await passerGone
    expect(await figures(second.metricsUrl)).toMatchObject({ midge_subscriptions: 2 })

    // a: reconnects and takes its three messages (the broker sees the acks)
    const acked = countEvents(second.broker, 'ack', 3)
    const a = mqtt.connect(second.url, { clientId: 'away-a', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => a.endAsync(true))
    await collectMessages(a, 3)
    await acked
    expect(await figures(second.metricsUrl)).toMatchObject({ midge_session_queued_messages: 3, midge_store_messages: 5, midge_clients_disconnected: 1 })
    await a.endAsync()
    const b = mqtt.connect(second.url, { clientId: 'away-b', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => b.endAsync(true))
    const ackedB = countEvents(second.broker, 'ack', 3)
    await collectMessages(b, 3)
    await ackedB
    expect(await figures(second.metricsUrl)).toMatchObject({
      midge_session_queued_messages: 0,
      midge_session_oldest_queued_age_seconds: 0,
      midge_store_messages: 2,
      midge_store_message_bytes: 8,
      midge_clients_disconnected: 1, // a left again, its subscription stays
    })
    const drainedBytes = await storeBytesMatchesFile(second.metricsUrl, file)
    await second.broker.close()

    // the acks appended removals; the next start compacts them away, and the figure follows the file
    const third = await start(dataDir)
    const compacted = await figures(third.metricsUrl)
    expect(await storeBytesMatchesFile(third.metricsUrl, file)).toBeLessThan(drainedBytes)
    expect(compacted).toMatchObject({ midge_session_queued_messages: 0, midge_store_messages: 2, midge_retained_messages: 2, midge_clients_disconnected: 2, midge_subscriptions: 2 })
  })

  test('$SYS carries the store figures; an expired session counts in clients/expired and leaves the queue', async () => {
    const dataDir = tempDir()
    const recorder = sysRecorder()
    const { url } = await start(dataDir, { sysInterval: 1, sessionExpiry: 1, plugins: [recorder.plugin] })
    const sub = await connectClient(url, { clientId: 'short-lived', clean: false })
    await sub.subscribeAsync('e/#', { qos: 1 })
    await sub.endAsync()
    const pub = await connectClient(url, { clientId: 'pub' })
    await pub.publishAsync('e/1', 'one', { qos: 1 })
    await pub.publishAsync('e/2', 'two', { qos: 2 })
    await pub.endAsync()

    await recorder.waitFor('$SYS/broker/midge/sessions/queued', '2')
    await recorder.waitFor('$SYS/broker/clients/disconnected', '1')
    await recorder.waitFor('$SYS/broker/subscriptions/count', '1')
    // one second offline, the next sweep removes it
    await recorder.waitFor('$SYS/broker/clients/expired', '1')
    await recorder.waitFor('$SYS/broker/midge/sessions/queued', '0')
    await recorder.waitFor('$SYS/broker/clients/disconnected', '0')
    await recorder.waitFor('$SYS/broker/subscriptions/count', '0')
    await recorder.waitFor('$SYS/broker/midge/sessions/oldest_age', '0')
    await recorder.waitFor('$SYS/broker/midge/store/bytes', (v) => Number(v) > 0)
  })
})
