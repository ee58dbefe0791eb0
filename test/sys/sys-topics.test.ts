import { describe, expect, test } from 'vitest'
import { definePlugin } from '../../src/core/plugin-api.js'
import { SYS_METRICS } from '../../src/sys/catalog.js'
import { defineSysMetric } from '../../src/sys/sys-metric.js'
import { version } from '../../src/version.js'
import { collectMessages, connectClient, nextMessage } from '../helpers/clients.js'
import { collectMatching, countEvents, scrape, startSysBroker, sysRecorder } from './helpers.js'

const LOADS = ['publish/received', 'publish/sent', 'publish/dropped', 'bytes/received', 'bytes/sent', 'connections', 'messages/received', 'messages/sent']

/** The whole `$SYS/broker` tree midge publishes on its own (the contract Mosquitto tools read). */
const SYS_TOPICS = [
  'version', 'uptime',
  'clients/connected', 'clients/maximum', 'clients/total', 'clients/expired', 'clients/disconnected',
  'publish/messages/received', 'messages/received', 'publish/messages/sent', 'messages/sent', 'publish/messages/dropped',
  'bytes/received', 'bytes/sent',
  ...LOADS.flatMap((l) => ['1min', '5min', '15min'].map((w) => `load/${l}/${w}`)),
  'subscriptions/count', 'retained messages/count', 'store/messages/count', 'messages/stored', 'store/messages/bytes',
  'midge/dead_letters/expired', 'midge/dead_letters/queue_full', 'midge/dead_letters/max_attempts', 'midge/dead_letters/no_subscribers', 'midge/dead_letters/slow_consumer',
  'midge/connections/refused',
  // the session store taking writes (1) or not (0)
  'midge/store/up',
  // the inflight window's figure, under midge's name and Mosquitto's
  'midge/inflight', 'messages/inflight',
].map((t) => `$SYS/broker/${t}`).sort()

describe('$SYS/broker and /metrics', () => {
  test('after known traffic, $SYS and /metrics report exact, equal counts', async () => {
    const recorder = sysRecorder()
    const broker = await startSysBroker({ interval: 1 }, [recorder.plugin])
    const subs = await Promise.all([1, 2, 3].map(() => connectClient(broker.mqttUrl)))
    await Promise.all(subs.map((s) => s.subscribeAsync('traffic/#', { qos: 1 })))
    const [a, b] = await Promise.all([connectClient(broker.mqttUrl), connectClient(broker.mqttUrl)])
    if (a === undefined || b === undefined) throw new Error('publishers missing')

    const received = Promise.all(subs.map((s) => collectMessages(s, 15)))
    const routed = countEvents(broker, 'publish', 15, (_m, client) => client !== undefined)
    const acked = countEvents(broker, 'ack', 15)
    for (let i = 0; i < 5; i++) await Promise.all([a.publishAsync('traffic/a', `a${i}`, { qos: 0 }), b.publishAsync('traffic/b', `b${i}`, { qos: 0 })])
    for (let i = 0; i < 3; i++) await a.publishAsync('traffic/a', `a-q1-${i}`, { qos: 1 })
    for (let i = 0; i < 2; i++) await b.publishAsync('traffic/b', `b-q1-${i}`, { qos: 1 })
    await Promise.all([received, routed, acked])

    // 10 QoS 0 + 5 QoS 1 from 2 clients, each delivered to 3 subscribers.
    const expected: Record<string, string> = {
      'publish/messages/received': '15',
      'messages/received': '15',
      'publish/messages/sent': '45',
      'messages/sent': '45',
      'publish/messages/dropped': '0',
      'clients/connected': '5',
      'clients/maximum': '5',
      'clients/total': '5',
      'clients/disconnected': '0',
      'subscriptions/count': '3',
      // Every $SYS/broker value is retained and counts, as in Mosquitto.
      'retained messages/count': String(SYS_TOPICS.length),
    }
    for (const [topic, value] of Object.entries(expected)) await recorder.waitFor(`$SYS/broker/${topic}`, value)
    // Socket bytes: the traffic is over, so the next tick reports exactly the core's figure.
    const { bytesIn, bytesOut } = broker.stats()
    await recorder.waitFor('$SYS/broker/bytes/received', String(bytesIn))
    await recorder.waitFor('$SYS/broker/bytes/sent', String(bytesOut))

    const metrics = await scrape(broker.metricsUrl)
    const sys = (topic: string): number => Number(recorder.latest.get(`$SYS/broker/${topic}`))
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    expect({
      received: metrics.value('midge_publish_messages_received_total'),
      sent: metrics.value('midge_publish_messages_sent_total'),
      dropped: metrics.value('midge_publish_messages_dropped_total'),
      connected: metrics.value('midge_clients_connected'),
      maximum: metrics.value('midge_clients_maximum'),
      total: metrics.value('midge_clients_registered'),
      subscriptions: metrics.value('midge_subscriptions'),
      retained: metrics.value('midge_retained_messages'),
      bytesIn: metrics.value('midge_bytes_received_total'),
      bytesOut: metrics.value('midge_bytes_sent_total'),
    }).toEqual({
      received: 15, sent: 45, dropped: 0, connected: 5, maximum: 5, total: 5, subscriptions: 3, retained: SYS_TOPICS.length, bytesIn, bytesOut,
    })
    expect(sys('bytes/received')).toBe(bytesIn)
    expect(bytesIn).toBeGreaterThan(15 * 'traffic/a'.length)
    expect(metrics.value('midge_dead_letters_total{reason="queue_full"}')).toBe(0)
    expect(metrics.value(`midge_build_info{version="${version}"}`)).toBe(1)
    // prom-client's process metrics, prefixed.
    expect(metrics.value('midge_process_cpu_user_seconds_total')).toBeGreaterThan(0)
    expect(metrics.text).toContain('midge_nodejs_eventloop_lag_seconds')
  })

  test('load averages move with traffic: 1 min reacts most, 15 min least', async () => {
    const recorder = sysRecorder()
    const broker = await startSysBroker({ interval: 1 }, [recorder.plugin])
    const pub = await connectClient(broker.mqttUrl)
    await recorder.waitFor('$SYS/broker/load/publish/received/1min', '0.00')
    for (let i = 0; i < 30; i++) await pub.publishAsync('burst', String(i), { qos: 1 })
    // 15min is published last of the three: once it moved, all three come from the same tick.
    const fifteen = Number(await recorder.waitFor('$SYS/broker/load/publish/received/15min', (v) => Number(v) > 0))
    const one = Number(recorder.latest.get('$SYS/broker/load/publish/received/1min'))
    const five = Number(recorder.latest.get('$SYS/broker/load/publish/received/5min'))
    expect(one).toBeGreaterThan(five)
    expect(five).toBeGreaterThan(fifteen)
    expect(fifteen).toBeGreaterThan(0)
    // The Mosquitto alias carries the same figure; bytes moved too.
    expect(recorder.latest.get('$SYS/broker/load/messages/received/1min')).toBe(recorder.latest.get('$SYS/broker/load/publish/received/1min'))
    await recorder.waitFor('$SYS/broker/load/bytes/received/1min', (v) => Number(v) > 0)
    expect(recorder.latest.get('$SYS/broker/load/publish/received/1min')).toMatch(/^\d+\.\d\d$/)
    const metrics = await scrape(broker.metricsUrl)
    expect(metrics.value('midge_load_per_minute{measure="publish_received",window="1min"}')).toBeGreaterThan(0)
  })

  test('a client subscribed to $SYS/# gets every retained value at once', async () => {
    // One tick, at start: an hour-long interval proves nothing waits for the next one.
    const broker = await startSysBroker({ interval: 3600 })
    const client = await connectClient(broker.mqttUrl)
    const got = collectMatching(client, SYS_TOPICS.length, (t) => t.startsWith('$SYS/broker/'))
    // `$SYS/#` also brings aedes's live `$SYS/<id>/new/subscribes` for this very SUBSCRIBE.
    await client.subscribeAsync('$SYS/#')
    const messages = await got
    expect(messages.map((m) => m.topic).sort()).toEqual(SYS_TOPICS)
    expect(messages.every((m) => m.packet.retain)).toBe(true)
    const payload = (t: string): string | undefined => messages.find((m) => m.topic === `$SYS/broker/${t}`)?.payload.toString()
    expect(payload('version')).toBe(`midge version ${version}`)
    expect(payload('uptime')).toMatch(/^\d+ seconds$/)
    expect(payload('load/bytes/sent/15min')).toBe('0.00')
  })

  test('# and +/... do not match $SYS; aedes\'s own $SYS/<id>/... topics still work', async () => {
    const recorder = sysRecorder()
    const broker = await startSysBroker({ interval: 1 }, [recorder.plugin])
    const all = await connectClient(broker.mqttUrl)
    const seen: string[] = []
    all.on('message', (t) => seen.push(t))
    await all.subscribeAsync(['#', '+/broker/#'])
    const heartbeat = await connectClient(broker.mqttUrl)
    await heartbeat.subscribeAsync(`$SYS/${broker.id}/new/clients`)
    const newClient = nextMessage(heartbeat)
    const late = await connectClient(broker.mqttUrl, { clientId: 'late-comer' })
    expect((await newClient).payload.toString()).toBe('late-comer')
    // A live tick after the subscription (clients/connected changed): still nothing for `#`.
    await recorder.waitFor('$SYS/broker/clients/connected', '3')
    const sentinel = nextMessage(all, 'sentinel')
    await late.publishAsync('sentinel', 'x', { qos: 1 })
    await sentinel
    expect(seen).toEqual(['sentinel'])
  })

  test('clients cannot publish to $SYS: the connection closes and the value stands', async () => {
    const broker = await startSysBroker({ interval: 3600 })
    const intruder = await connectClient(broker.mqttUrl)
    const closed = new Promise<void>((resolve) => intruder.once('close', () => resolve()))
    intruder.publish('$SYS/broker/version', 'pwned', { qos: 1, retain: true })
    await closed
    const reader = await connectClient(broker.mqttUrl)
    const got = nextMessage(reader)
    await reader.subscribeAsync('$SYS/broker/version')
    expect((await got).payload.toString()).toBe(`midge version ${version}`)
    expect((await scrape(broker.metricsUrl)).value('midge_publish_messages_received_total')).toBe(0)
  })

  test('sys.interval 0 publishes nothing; /metrics still serves the counters', async () => {
    const recorder = sysRecorder()
    const broker = await startSysBroker({ interval: 0 }, [recorder.plugin])
    const client = await connectClient(broker.mqttUrl)
    await client.publishAsync('x', 'y', { qos: 1 })
    const metrics = await scrape(broker.metricsUrl)
    expect(metrics.value('midge_publish_messages_received_total')).toBe(1)
    expect(metrics.value('midge_clients_connected')).toBe(1)
    // No load averages without ticks to sample them.
    expect(metrics.text).not.toContain('midge_load_per_minute')
    // The first tick would have run before createBroker resolved: none did.
    expect([...recorder.latest.keys()]).toEqual([])
  })

  test('dead letters per reason come from drop events; plugins add $SYS metrics through the seam', async () => {
    const recorder = sysRecorder()
    const groups = new Map([['workers', 2], ['auditors', 1]])
    const seam = definePlugin<never>({
      name: 'fake-groups',
      register (broker) {
        defineSysMetric(broker.metrics, { ...SYS_METRICS.groupMembers, read: () => [...groups].map(([group, n]) => [{ group }, n] as const) })
        broker.onStart(() => {
          const message = { topic: 't', payload: Buffer.alloc(0) }
          broker.events.emit('drop', { reason: 'queue_full', message, at: Date.now() })
          broker.events.emit('drop', { reason: 'queue_full', message, at: Date.now() })
          broker.events.emit('drop', { reason: 'expired', message, at: Date.now() })
        })
      },
    })
    const broker = await startSysBroker({ interval: 1 }, [seam, recorder.plugin])
    await recorder.waitFor('$SYS/broker/midge/dead_letters/queue_full', '2')
    await recorder.waitFor('$SYS/broker/midge/dead_letters/expired', '1')
    await recorder.waitFor('$SYS/broker/publish/messages/dropped', '3')
    expect(recorder.latest.get('$SYS/broker/midge/groups/workers/members')).toBe('2')
    const metrics = await scrape(broker.metricsUrl)
    expect(metrics.value('midge_dead_letters_total{reason="queue_full"}')).toBe(2)
    expect(metrics.value('midge_dead_letters_total{reason="max_attempts"}')).toBe(0)
    expect(metrics.value('midge_group_members{group="auditors"}')).toBe(1)

    // A group that goes away is cleared from the retained tree.
    groups.delete('auditors')
    await recorder.waitFor('$SYS/broker/midge/groups/auditors/members', '')
  })
})
