import { describe, expect, test } from 'vitest'
import type { PriorityConfigInput } from '../../src/config/sections/priority.js'
import { connectClient } from '../helpers/clients.js'
import { ManualAckClient, routed, startPriorityBroker } from './helpers.js'

const RULES = [{ filter: 'flood/#', priority: 9 }, { filter: 'bulk/#', priority: 0 }]

/**
 * One consumer with a window of 1, blocked on its first message while 20
 * priority-0 and 300 priority-9 messages pile up; then it acknowledges as fast
 * as messages come and the publisher adds one more priority-9 message per
 * delivery, so the flood never runs dry. Returns the topics of the first 220
 * deliveries after the block.
 */
async function drain (mode: NonNullable<PriorityConfigInput>['mode']): Promise<string[]> {
  const broker = await startPriorityBroker({ priority: { rules: RULES, mode }, maxInflight: 1 })
  const consumer = await ManualAckClient.open(broker.mqttUrl, `consumer-${mode}`)
  await consumer.subscribe('flood/#', 1)
  await consumer.subscribe('bulk/#', 1)
  const pub = await connectClient(broker.mqttUrl)

  await pub.publishAsync('flood/first', 'blocker', { qos: 1 })
  const blocker = await consumer.next()
  const piled = routed(broker, 320)
  for (let i = 0; i < 20; i++) await pub.publishAsync('bulk/x', `bulk-${i}`, { qos: 1 })
  for (let i = 0; i < 300; i++) await pub.publishAsync('flood/x', `flood-${i}`, { qos: 1 })
  await piled

  consumer.ack(blocker)
  const topics: string[] = []
  const more: Array<Promise<unknown>> = []
  for (let i = 0; i < 220; i++) {
    const p = await consumer.next()
    topics.push(p.topic)
    consumer.ack(p)
    more.push(pub.publishAsync('flood/x', `more-${i}`, { qos: 1 }))
  }
  await Promise.all(more)
  return topics
}

describe('hand-over mode', () => {
  test('strict: no low-priority message while high-priority ones wait', async () => {
    const topics = await drain('strict')
    expect(topics.filter((t) => t === 'bulk/x')).toHaveLength(0)
  })

  test('weighted: low priorities keep a share (weight p+1: 1 in 11 against priority 9) during a sustained flood', async () => {
    const topics = await drain('weighted')
    const bulk = topics.filter((t) => t === 'bulk/x').length
    expect(bulk).toBe(20) // 220 hand-overs × 1/11
    // spread out, not bunched: one in every 11
    const gaps = topics.flatMap((t, i) => (t === 'bulk/x' ? [i] : [])).map((i, k, all) => (k === 0 ? i : i - (all[k - 1] as number)))
    expect(Math.max(...gaps)).toBeLessThanOrEqual(11)
  })
})
