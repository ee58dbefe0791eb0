import { describe, expect, test } from 'vitest'
import type { IPublishPacket } from 'mqtt-packet'
import { connectClient } from '../helpers/clients.js'
import { startBroker } from '../helpers/broker.js'
import { ManualAckClient } from '../priority-delivery/helpers.js'

/** Publish `count` QoS 1 messages; resolves with what a consumer that never acks got once a sentinel arrives. */
async function unackedDeliveries (omit: Parameters<typeof startBroker>[1]): Promise<IPublishPacket[]> {
  const broker = await startBroker({ mqtt: { maxInflight: 3 } }, omit)
  const consumer = await ManualAckClient.open(broker.mqttUrl, 'stalled')
  await consumer.subscribe('work/#', 1)
  await consumer.subscribe('sentinel', 0)
  const pub = await connectClient(broker.mqttUrl)
  for (let i = 0; i < 10; i++) await pub.publishAsync('work/x', String(i), { qos: 1 })
  // QoS 0 never waits for the window: once it arrives, every QoS 1 delivery the broker made is here too.
  await pub.publishAsync('sentinel', 'end', { qos: 0 })
  await consumer.raw.next('publish', (p) => (p as IPublishPacket).topic === 'sentinel')
  return consumer.pending()
}

describe('omitBuiltins', () => {
  test('with priority-delivery the window holds a consumer to maxInflight unacked deliveries', async () => {
    expect(await unackedDeliveries({})).toHaveLength(3)
  })

  test('without priority-delivery there is no window: every delivery is written at once, as aedes does', async () => {
    expect(await unackedDeliveries({ omitBuiltins: ['priority-delivery'] })).toHaveLength(10)
  })

  test('without sys there is no /metrics route; /health stays', async () => {
    const broker = await startBroker({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'http', host: '127.0.0.1', port: 0 }] }, { omitBuiltins: ['sys'] })
    const http = broker.addresses().find((a) => a.type === 'http')?.url ?? ''
    expect((await fetch(`${http}/metrics`)).status).toBe(404)
    expect((await fetch(`${http}/health`)).status).toBe(200)
  })
})
