import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { SYS_METRICS } from '../../src/sys/catalog.js'
import { defineSysMetric } from '../../src/sys/sys-metric.js'
import { SysPublisher } from '../../src/sys/sys-publisher.js'

// The interval is what is under test here: fake timers, no sockets.
beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

function setup (intervalSeconds = 10): { registry: Registry, sent: Array<[string, string]>, live: string[], publisher: SysPublisher, elapsed: number[], figures: { level: number, groups: Map<string, number> } } {
  const registry = new Registry()
  const figures = { level: 1, groups: new Map([['g1', 1], ['g2', 2]]) }
  defineSysMetric(registry, { type: 'gauge', name: 'level', help: 'h', sysTopic: 'level', read: () => figures.level })
  defineSysMetric(registry, { type: 'gauge', name: 'members', help: 'h', labelNames: ['group'], sysTopic: 'groups/<group>', read: () => [...figures.groups].map(([group, n]) => [{ group }, n] as const) })
  const sent: Array<[string, string]> = []
  const live: string[] = []
  const elapsed: number[] = []
  const publisher = new SysPublisher({
    registry,
    intervalMs: intervalSeconds * 1000,
    publish: async (topic, payload, retain) => { sent.push([topic, payload]); if (!retain) live.push(topic) },
    beforeTick: (s) => elapsed.push(s),
    log: pino({ level: 'silent' }),
    now: () => Date.now(),
  })
  return { registry, sent, live, publisher, elapsed, figures }
}

describe('SysPublisher', () => {
  // A retained publish is stored before it is routed: with the store away every one failed or hung,
  // and $SYS went silent, store/up 0 included.
  test('while the store takes no writes, values go out live only; the first tick with it back publishes them retained', async () => {
    const { registry, sent, live, publisher, figures } = setup(10)
    let up = 1
    defineSysMetric(registry, { ...SYS_METRICS.storeUp, read: () => up })
    await publisher.start()
    expect(live).toEqual([])
    sent.length = 0
    up = 0
    figures.level = 2
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sent).toEqual([['$SYS/broker/level', '2'], ['$SYS/broker/midge/store/up', '0']])
    expect(live).toEqual(['$SYS/broker/level', '$SYS/broker/midge/store/up'])
    sent.length = 0
    live.length = 0
    up = 1
    await vi.advanceTimersByTimeAsync(10_000)
    // level 2 is retained now, although it did not change since the last tick; store/up 1 reaches
    // the subscribers that saw it at 0, although the retained copy said 1 all along
    expect(sent).toEqual([['$SYS/broker/level', '2'], ['$SYS/broker/midge/store/up', '1']])
    expect(live).toEqual([])
    await publisher.stop()
  })

  test('publishes everything at start, then only what changed, every interval', async () => {
    const { sent, publisher, elapsed, figures } = setup(10)
    await publisher.start()
    expect(sent).toEqual([['$SYS/broker/level', '1'], ['$SYS/broker/groups/g1', '1'], ['$SYS/broker/groups/g2', '2']])
    sent.length = 0

    await vi.advanceTimersByTimeAsync(9_999)
    expect(sent).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    // Nothing changed: nothing published (retained copies serve new subscribers).
    expect(sent).toEqual([])

    figures.level = 5
    figures.groups.set('g1', 4)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sent).toEqual([['$SYS/broker/level', '5'], ['$SYS/broker/groups/g1', '4']])
    expect(elapsed).toEqual([0, 10, 10])
    await publisher.stop()
  })

  test('a series that disappears is cleared with an empty retained value', async () => {
    const { sent, publisher, figures } = setup(10)
    await publisher.start()
    sent.length = 0
    figures.groups.delete('g2')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sent).toEqual([['$SYS/broker/groups/g2', '']])
    await publisher.stop()
  })

  test('a failing reader is skipped; the others still publish', async () => {
    const { registry, sent, publisher, figures } = setup(10)
    defineSysMetric(registry, { type: 'gauge', name: 'broken', help: 'h', sysTopic: 'broken', read: () => { throw new Error('store down') } })
    await publisher.start()
    expect(sent.map(([t]) => t)).toEqual(['$SYS/broker/level', '$SYS/broker/groups/g1', '$SYS/broker/groups/g2'])
    figures.level = 2
    await vi.advanceTimersByTimeAsync(10_000)
    expect(sent.at(-1)).toEqual(['$SYS/broker/level', '2'])
    await publisher.stop()
  })

  test('stop() ends the ticks', async () => {
    const { sent, publisher, figures } = setup(1)
    await publisher.start()
    await publisher.stop()
    sent.length = 0
    figures.level = 9
    await vi.advanceTimersByTimeAsync(5_000)
    expect(sent).toEqual([])
  })
})
