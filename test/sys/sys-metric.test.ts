import { Registry } from 'prom-client'
import { describe, expect, test } from 'vitest'
import { BrokerError } from '../../src/errors.js'
import { SYS_METRICS } from '../../src/sys/catalog.js'
import { defineSysMetric, sysBindings, type SysBinding } from '../../src/sys/sys-metric.js'

/** What the publisher would send for a binding: topic → payload. */
async function render (binding: SysBinding | undefined): Promise<Record<string, string>> {
  if (binding === undefined) throw new Error('no binding')
  const out: Record<string, string> = {}
  for (const { value, labels } of (await binding.metric.get()).values) {
    for (const topic of binding.topics(labels)) out[topic] = binding.payload(value, labels)
  }
  return out
}

describe('defineSysMetric: the seam plugins use to add $SYS figures', () => {
  test('a labelled gauge read at collect time fills its topic template, in /metrics too', async () => {
    const registry = new Registry()
    let depth = new Map([['workers', 3], ['odd+name#', 1]])
    defineSysMetric(registry, { ...SYS_METRICS.groupQueued, read: () => [...depth].map(([group, n]) => [{ group }, n] as const) })
    expect(await render(sysBindings(registry)[0])).toEqual({
      '$SYS/broker/midge/groups/workers/queued': '3',
      // Wildcards would make the topic unpublishable.
      '$SYS/broker/midge/groups/odd_name_/queued': '1',
    })
    expect(await registry.metrics()).toContain('midge_group_queued_messages{group="workers"} 3')
    // A series the reader stops reporting disappears.
    depth = new Map([['workers', 0]])
    expect(await render(sysBindings(registry)[0])).toEqual({ '$SYS/broker/midge/groups/workers/queued': '0' })
  })

  test('counters read plain numbers; async readers, aliases and formats work', async () => {
    const registry = new Registry()
    const counts = { sent: 7 }
    defineSysMetric(registry, { type: 'counter', name: 'x_sent_total', help: 'h', sysTopic: () => ['a/sent', 'b/sent'], read: () => counts.sent })
    defineSysMetric(registry, { type: 'gauge', name: 'x_ratio', help: 'h', sysTopic: 'ratio', read: async () => 2 / 3 })
    defineSysMetric(registry, { type: 'gauge', name: 'x_up', help: 'h', sysTopic: 'up', read: () => 12, format: (v) => `${v} seconds` })
    const [sent, ratio, up] = sysBindings(registry)
    expect(await render(sent)).toEqual({ '$SYS/broker/a/sent': '7', '$SYS/broker/b/sent': '7' })
    counts.sent = 9
    expect(await render(sent)).toEqual({ '$SYS/broker/a/sent': '9', '$SYS/broker/b/sent': '9' })
    expect(await render(ratio)).toEqual({ '$SYS/broker/ratio': '0.67' })
    expect(await render(up)).toEqual({ '$SYS/broker/up': '12 seconds' })
    expect(await registry.metrics()).toContain('# TYPE x_sent_total counter\nx_sent_total 9')
  })

  test('an inc()-updated counter is shared: defining it again returns the same metric', async () => {
    const registry = new Registry()
    const owner = defineSysMetric(registry, SYS_METRICS.clientsExpired)
    const other = defineSysMetric(registry, SYS_METRICS.clientsExpired)
    expect(other).toBe(owner)
    other.inc()
    expect(await render(sysBindings(registry)[0])).toEqual({ '$SYS/broker/clients/expired': '1' })
  })

  test('clashes and topics that do not place every label are refused with ERR_METRIC_DEFINITION', () => {
    const registry = new Registry()
    defineSysMetric(registry, { ...SYS_METRICS.subscriptions, read: () => 1 })
    const clash = (): unknown => defineSysMetric(registry, { ...SYS_METRICS.subscriptions, read: () => 2 })
    expect(clash).toThrow(BrokerError)
    expect(clash).toThrow(/midge_subscriptions is already defined/)
    const missing = (): unknown => defineSysMetric(registry, { type: 'gauge', name: 'y', help: 'h', labelNames: ['group'], sysTopic: 'groups/all' })
    expect(missing).toThrow(expect.objectContaining({ code: 'ERR_METRIC_DEFINITION' }))
    const unknown = (): unknown => defineSysMetric(registry, { type: 'gauge', name: 'z', help: 'h', sysTopic: 'groups/<group>' })
    expect(unknown).toThrow(expect.objectContaining({ code: 'ERR_METRIC_DEFINITION' }))
  })

  test('registries are independent (one per broker)', () => {
    const a = new Registry()
    const b = new Registry()
    defineSysMetric(a, { ...SYS_METRICS.storeBytes, read: () => 1 })
    expect(() => defineSysMetric(b, { ...SYS_METRICS.storeBytes, read: () => 2 })).not.toThrow()
    expect(sysBindings(a)).toHaveLength(1)
    expect(sysBindings(new Registry())).toEqual([])
  })
})
