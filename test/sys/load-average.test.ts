import { describe, expect, test } from 'vitest'
import { LOAD_MEASURES, LoadAverages, type LoadMeasure } from '../../src/sys/load-average.js'

function totals (values: Partial<Record<LoadMeasure, number>>): Record<LoadMeasure, number> {
  return Object.fromEntries(LOAD_MEASURES.map((m) => [m, values[m] ?? 0])) as Record<LoadMeasure, number>
}

describe('LoadAverages (Mosquitto EWMA of the per-minute rate)', () => {
  test('the first sample only sets the baseline', () => {
    const loads = new LoadAverages()
    loads.sample(totals({ publish_received: 1_000 }), 0)
    expect(loads.value('publish_received', '1min')).toBe(0)
  })

  test('one interval moves each window by (1 - exp(-elapsed / window)) of the rate', () => {
    const loads = new LoadAverages()
    loads.sample(totals({}), 0)
    loads.sample(totals({ publish_received: 20 }), 10) // 120 per minute
    expect(loads.value('publish_received', '1min')).toBeCloseTo(120 * (1 - Math.exp(-10 / 60)), 10)
    expect(loads.value('publish_received', '5min')).toBeCloseTo(120 * (1 - Math.exp(-10 / 300)), 10)
    expect(loads.value('publish_received', '15min')).toBeCloseTo(120 * (1 - Math.exp(-10 / 900)), 10)
    expect(loads.value('bytes_sent', '1min')).toBe(0)
  })

  test('a steady rate converges to itself; silence decays by exp(-elapsed / window)', () => {
    const loads = new LoadAverages()
    let total = 0
    loads.sample(totals({}), 0)
    for (let tick = 0; tick < 360; tick++) loads.sample(totals({ connections: total += 10 }), 10) // 60/min for an hour
    expect(loads.value('connections', '1min')).toBeCloseTo(60, 6)
    expect(loads.value('connections', '15min')).toBeCloseTo(60 * (1 - Math.exp(-3600 / 900)), 6)
    const before = loads.value('connections', '5min')
    loads.sample(totals({ connections: total }), 30)
    expect(loads.value('connections', '5min')).toBeCloseTo(before * Math.exp(-30 / 300), 10)
  })

  test('a total that goes down counts as no traffic', () => {
    const loads = new LoadAverages()
    loads.sample(totals({ bytes_received: 500 }), 0)
    loads.sample(totals({ bytes_received: 100 }), 10)
    expect(loads.value('bytes_received', '1min')).toBe(0)
  })

  test('samples() labels every measure and window', () => {
    const loads = new LoadAverages()
    const labels = [...loads.samples()].map(([l]) => `${l.measure}/${l.window}`)
    expect(labels).toHaveLength(LOAD_MEASURES.length * 3)
    expect(labels).toContain('publish_dropped/15min')
  })
})
