/** One (scenario, broker) run, and how repeats of it are combined. */
import type { BrokerName } from './brokers.js'
import { median } from './stats.js'
import type { Metric } from '../scenarios/types.js'

export interface RunResult {
  scenario: string
  broker: BrokerName
  /** Position in the run (brokers alternate per scenario and per repeat). */
  order: number
  ok: boolean
  metrics: Metric[]
  error?: string
  /** Broker RSS at the end of the scenario (clients disconnected), bytes. */
  rssEndBytes?: number
  elapsedMs: number
}

/** Repeats of one (scenario, broker) folded into one row: medians; any failure fails the row. */
export interface CombinedResult extends RunResult {
  repeats: number
}

export function combineRuns (runs: readonly RunResult[]): CombinedResult {
  const first = runs[0]
  if (first === undefined) throw new Error('no runs to combine')
  const failed = runs.find((r) => !r.ok)
  const elapsedMs = runs.reduce((sum, r) => sum + r.elapsedMs, 0)
  if (failed !== undefined) return { ...failed, elapsedMs, repeats: runs.length }
  const metrics = first.metrics.map((m) => ({
    ...m,
    value: median(runs.map((r) => r.metrics.find((x) => x.key === m.key)?.value ?? Number.NaN)),
  }))
  const rss = runs.map((r) => r.rssEndBytes ?? Number.NaN)
  return { ...first, metrics, rssEndBytes: median(rss), elapsedMs, repeats: runs.length }
}
