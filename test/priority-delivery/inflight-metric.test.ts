import { describe, expect, test } from 'vitest'
import { countEvents, scrape } from '../sys/helpers.js'
import { connectClient } from '../helpers/clients.js'
import { ManualAckClient, startPriorityBroker } from './helpers.js'

/**
 * `midge_inflight_messages`: QoS 1/2 deliveries sent and not acknowledged,
 * over every open connection, as `/metrics` shows it. Consumers that withhold
 * their acks make the figure exact: a window of 3 holds the rest back.
 */
describe('inflight gauge', () => {
  test('counts unacknowledged QoS 1/2 deliveries up to each window, never QoS 0; acks and disconnects bring it down', async () => {
    const broker = await startPriorityBroker({
      maxInflight: 3,
      config: { listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }] },
    })
    const metricsUrl = `${broker.addresses().find((a) => a.type === 'http')?.url ?? ''}/metrics`
    const inflight = async (): Promise<number | undefined> => (await scrape(metricsUrl)).value('midge_inflight_messages')
    expect(await inflight()).toBe(0)

    const slow = await ManualAckClient.open(broker.mqttUrl, 'slow')
    await slow.subscribe('m/#', 1)
    const other = await ManualAckClient.open(broker.mqttUrl, 'other', { clean: false })
    await other.subscribe('o/#', 2)
    const pub = await connectClient(broker.mqttUrl)

    for (let i = 0; i < 5; i++) await pub.publishAsync('m/a', `m${i}`, { qos: 1 })
    const first = await slow.take(3)
    // QoS 0 is neither counted nor held: it arrives past the full window
    await pub.publishAsync('m/zero', 'z', { qos: 0 })
    expect((await slow.next()).topic).toBe('m/zero')
    expect(await inflight()).toBe(3)

    await pub.publishAsync('o/b', 'q2', { qos: 2 })
    const q2 = await other.next()
    expect(q2.qos).toBe(2)
    expect(await inflight()).toBe(4)

    // one PUBACK: its slot goes to the next waiting message at once
    slow.ack(first[0]!)
    const fourth = await slow.next()
    expect(fourth.payload.toString()).toBe('m3')
    expect(await inflight()).toBe(4)

    // QoS 2 counts until PUBCOMP, not PUBREC
    other.raw.send({ cmd: 'pubrec', messageId: q2.messageId })
    await other.raw.next('pubrel')
    expect(await inflight()).toBe(4)
    const completed = countEvents(broker, 'ack', 1, (_m, client) => client.id === 'other')
    other.raw.send({ cmd: 'pubcomp', messageId: q2.messageId })
    await completed
    expect(await inflight()).toBe(3)

    const acked = countEvents(broker, 'ack', 2, (_m, client) => client.id === 'slow')
    slow.ack(first[1]!)
    slow.ack(first[2]!)
    await acked
    const fifth = await slow.next()
    expect(fifth.payload.toString()).toBe('m4')
    expect(await inflight()).toBe(2)

    // a connection that goes away takes its unacknowledged deliveries off the figure
    const gone = countEvents(broker, 'clientDisconnect', 1, (client) => client.id === 'slow')
    slow.raw.socket.destroy()
    await gone
    expect(await inflight()).toBe(0)
  })
})
