import { describe, expect, test } from 'vitest'
import { connectClient } from '../helpers/clients.js'
import { connectCollecting, orderViolation, parse, PER_LEVEL_RULES, routed, startPriorityBroker, tempDir } from './helpers.js'

/** Deterministic mixed priorities: every level, interleaved. */
const priorityAt = (i: number): number => (i * 7 + (i >> 3)) % 10

async function fillBacklog (url: string, count: number, subscriber: string): Promise<void> {
  const sub = await connectClient(url, { clientId: subscriber, clean: false })
  await sub.subscribeAsync('prio/#', { qos: 1 })
  await sub.endAsync()
  const pub = await connectClient(url, { clientId: `pub-${subscriber}` })
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const p = priorityAt(i)
    sends.push(pub.publishAsync(`prio/${p}/m`, `${p}:${i}`, { qos: 1 }))
  }
  await Promise.all(sends)
  await pub.endAsync()
}

describe('offline backlog is handed over by priority', () => {
  for (const store of ['memory', 'nedb'] as const) {
    test(`${store} store: 1,000 mixed messages arrive priority 9 first, FIFO within each priority`, async () => {
      const broker = await startPriorityBroker({
        priority: { rules: PER_LEVEL_RULES },
        config: { sessions: { store }, dataDir: tempDir() },
      })
      await fillBacklog(broker.mqttUrl, 1000, 'backlog-1')

      const { messages } = await connectCollecting(broker.mqttUrl, 1000, { clientId: 'backlog-1', clean: false })
      const got = (await messages).map((m) => parse(m.payload))

      expect(got).toHaveLength(1000)
      expect(orderViolation(got)).toBeUndefined()
      const nines = Array.from({ length: 1000 }, (_, i) => priorityAt(i)).filter((p) => p === 9).length
      expect(nines).toBeGreaterThan(90)
      // every priority-9 message before any lower one
      expect(got.slice(0, nines).every((m) => m.priority === 9)).toBe(true)
      expect(got.slice(nines).every((m) => m.priority < 9)).toBe(true)
      // nothing lost, nothing twice
      expect(new Set(got.map((m) => m.seq)).size).toBe(1000)
    })
  }

  test('the order holds across a restart (nedb, same dataDir)', async () => {
    const dataDir = tempDir()
    const options = { priority: { rules: PER_LEVEL_RULES }, config: { sessions: { store: 'nedb' as const }, dataDir }, manualClose: true }
    const first = await startPriorityBroker(options)
    try {
      await fillBacklog(first.mqttUrl, 300, 'restart-1')
    } finally {
      await first.close()
    }

    const second = await startPriorityBroker({ ...options, manualClose: false })
    const { messages } = await connectCollecting(second.mqttUrl, 300, { clientId: 'restart-1', clean: false })
    const got = (await messages).map((m) => parse(m.payload))

    expect(orderViolation(got)).toBeUndefined()
    expect(new Set(got.map((m) => m.seq)).size).toBe(300)
    expect(got[0]?.priority).toBe(9)
    expect(got.at(-1)?.priority).toBe(0)
  })

  test('the broker\'s own publishes get their rule priority too', async () => {
    const broker = await startPriorityBroker({ priority: { rules: [{ filter: 'ops/urgent', priority: 9 }], defaultPriority: 2 } })
    const sub = await connectClient(broker.mqttUrl, { clientId: 'ops-1', clean: false })
    await sub.subscribeAsync('ops/#', { qos: 1 })
    await sub.endAsync()
    for (let i = 0; i < 5; i++) await broker.publish({ topic: 'ops/routine', payload: `2:${i}`, qos: 1 })
    await broker.publish({ topic: 'ops/urgent', payload: '9:5', qos: 1 })

    const { messages } = await connectCollecting(broker.mqttUrl, 6, { clientId: 'ops-1', clean: false })
    const got = (await messages).map((m) => parse(m.payload))
    expect(got.map((m) => m.seq)).toEqual([5, 0, 1, 2, 3, 4])
  })

  test('rules on the publisher: client id and username', async () => {
    const broker = await startPriorityBroker({
      priority: {
        rules: [
          { filter: 'alarms/#', clientId: 'plc-7', priority: 9 },
          { filter: 'alarms/#', username: 'ops', priority: 8 },
          { filter: 'alarms/#', priority: 1 },
        ],
      },
    })
    const sub = await connectClient(broker.mqttUrl, { clientId: 'alarm-sub', clean: false })
    await sub.subscribeAsync('alarms/#', { qos: 1 })
    await sub.endAsync()
    const anyone = await connectClient(broker.mqttUrl, { clientId: 'someone' })
    const ops = await connectClient(broker.mqttUrl, { clientId: 'desk', username: 'ops' })
    const plc = await connectClient(broker.mqttUrl, { clientId: 'plc-7' })
    await anyone.publishAsync('alarms/a', '1:0', { qos: 1 })
    await ops.publishAsync('alarms/a', '8:1', { qos: 1 })
    await plc.publishAsync('alarms/a', '9:2', { qos: 1 })
    await anyone.publishAsync('alarms/b', '1:3', { qos: 1 })

    const { messages } = await connectCollecting(broker.mqttUrl, 4, { clientId: 'alarm-sub', clean: false })
    expect((await messages).map((m) => parse(m.payload).seq)).toEqual([2, 1, 0, 3])
  })

  test('a backlog larger than the window still arrives whole while new messages keep coming', async () => {
    const broker = await startPriorityBroker({ priority: { rules: PER_LEVEL_RULES }, maxInflight: 3 })
    await fillBacklog(broker.mqttUrl, 60, 'mixed-1')
    const { messages } = await connectCollecting(broker.mqttUrl, 70, { clientId: 'mixed-1', clean: false })
    const pub = await connectClient(broker.mqttUrl)
    const live = routed(broker, 10)
    for (let i = 0; i < 10; i++) await pub.publishAsync('prio/5/live', `5:${1000 + i}`, { qos: 1 })
    await live
    const got = (await messages).map((m) => parse(m.payload))
    expect(new Set(got.map((m) => m.seq)).size).toBe(70)
  })
})
