/** One (scenario, broker) run, and how repeats of it are combined. */
import type { BrokerName } from './broker-names.js'
import type { Json } from './json.js'
import { median } from './stats.js'
import type { Metric } from '../scenarios/types.js'

export interface RunResult {
  scenario: string
  broker: BrokerName
  /** Position in the run (brokers alternate per scenario and per repeat). */
  order: number
  /** Which repeat (0-based): runs of one round are neighbours in time, so ratios pair them. */
  round: number
  ok: boolean
  metrics: Metric[]
  error?: string
  /** What the scenario flagged beyond its figures (losses, duplicates, a phase out of time). */
  warnings: string[]
  /** What the broker reported it runs with (see servers/control.ts). */
  brokerInfo?: Json
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
  const warnings = runs.flatMap((r) => r.warnings.map((w) => (runs.length > 1 ? `run ${r.round + 1}: ${w}` : w)))
  if (failed !== undefined) return { ...failed, warnings, elapsedMs, repeats: runs.length }
  const metrics = first.metrics.map((m) => ({
    ...m,
    value: median(runs.map((r) => r.metrics.find((x) => x.key === m.key)?.value ?? Number.NaN)),
  }))
  const rss = runs.map((r) => r.rssEndBytes ?? Number.NaN)
  return { ...first, metrics, warnings, rssEndBytes: median(rss), elapsedMs, repeats: runs.length }
}

/** The value of `metric` in `run`, if the run succeeded and has it. */
export function valueOf (run: RunResult | undefined, metric: string): number | undefined {
  if (run === undefined || !run.ok) return undefined
  const v = run.metrics.find((m) => m.key === metric)?.value
  return v !== undefined && Number.isFinite(v) ? v : undefined
}
