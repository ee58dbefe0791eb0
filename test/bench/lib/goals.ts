/**
 * The figures the open issues quote, each against its target: ratios between
 * two brokers (or midge variants) on one scenario's metric, or one broker's
 * figure. A ratio is the ratio of the medians; the per-round range pairs the
 * runs of each repeat, which ran next to each other, to show the noise.
 */
import { BROKER_LABELS, type BrokerName } from './broker-names.js'
import { valueOf, type RunResult } from './results.js'

export interface GoalSpec {
  /** What is compared, e.g. "midge / midge −priority". Built from the brokers when absent. */
  label?: string
  scenario: string
  metric: string
  /** The figure is `num`'s metric ÷ `den`'s, or `num`'s alone without `den`. */
  num: BrokerName
  den?: BrokerName
  /** The target, when this row has one. */
  goal?: { op: '≥' | '≤', bound: number }
  /** Where the target is stated (which issue, in its words). */
  source: string
  /** The target is for the full counts (e.g. "20k drain"): not judged on a --quick run (verdict `quick`). */
  fullOnly?: boolean
}

export interface GoalResult {
  label: string
  scenario: string
  metric: string
  metricLabel: string
  kind: 'ratio' | 'value'
  num: BrokerName
  den?: BrokerName
  value: number | null
  /** The same figure per repeat (rounds where both runs succeeded). */
  perRound: number[]
  goal?: { op: '≥' | '≤', bound: number }
  source: string
  verdict: 'ok' | 'MISS' | 'n/a' | 'quick' | ''
}

const CORE = 'core issue: every throughput scenario ≥ 1.0× plain aedes with the core alone'
const PRIORITY = 'priority-delivery issue: throughput with the plugin on ≥ 0.9× off'
const MONITORING = 'monitoring issue: bench ratio with monitoring on ≥ 0.97× off'
const DURABLE = 'persistent-sessions issue: durable QoS 1 fan-in, midge nedb ≥ 0.5× aedes in memory'
const BACKLOG = 'persistent-sessions issue: 20k backlog drain ≤ 0.3 s with the durable store'
const STALLED = 'priority-delivery issue: with a stalled consumer the others keep ≥ 90% of their throughput'

/**
 * Every figure the issues quote, in report order. Rows whose runs are missing
 * are left out. Each on/off throughput ratio is followed by the same ratio of
 * work per message (msg per broker CPU-second), which machine noise hardly moves.
 */
export const GOALS: readonly GoalSpec[] = [
  ...core([['fanin-qos0', 'msgPerSec'], ['fanin-qos1', 'msgPerSec'], ['fanin-qos2', 'msgPerSec'], ['fanout-qos0', 'deliveriesPerSec'],
    ['fanout-qos1', 'deliveriesPerSec'], ['rtt-qos1', 'roundTripsPerSec'], ['connections', 'connPerSec']]),
  ...onOff('midge-nopriority', 0.9, PRIORITY, [['fanin-qos1', 'msgPerSec'], ['fanout-qos1', 'deliveriesPerSec']]),
  ...onOff('midge-nosys', 0.97, MONITORING, [['fanin-qos0', 'msgPerSec'], ['fanin-qos1', 'msgPerSec'], ['fanout-qos1', 'deliveriesPerSec']]),
  { scenario: 'durable-fanin', metric: 'deliveriesPerSec', num: 'midge-nedb', den: 'aedes', goal: { op: '≥', bound: 0.5 }, source: DURABLE },
  { scenario: 'durable-fanin', metric: 'perCpuSec', num: 'midge-nedb', den: 'aedes', source: DURABLE },
  { scenario: 'durable-fanin', metric: 'deliveriesPerSec', num: 'midge', den: 'aedes', source: DURABLE },
  { scenario: 'backlog', metric: 'drainMs', num: 'midge-nedb', goal: { op: '≤', bound: 300 }, source: BACKLOG, fullOnly: true },
  { scenario: 'backlog', metric: 'drainMsgPerSec', num: 'midge-nedb', den: 'aedes', source: BACKLOG },
  { scenario: 'stalled-noread', metric: 'keptRatio', num: 'midge', goal: { op: '≥', bound: 0.9 }, source: STALLED },
  { scenario: 'stalled-noread', metric: 'keptRatio', num: 'aedes', source: STALLED },
  { scenario: 'stalled-noread', metric: 'keptRatio', num: 'mosquitto', source: STALLED },
  { scenario: 'stalled-noread', metric: 'keptRatio', num: 'midge-nopriority', source: STALLED },
  { scenario: 'stalled-noack', metric: 'keptRatio', num: 'midge', goal: { op: '≥', bound: 0.9 }, source: STALLED },
  { scenario: 'stalled-noack', metric: 'keptRatio', num: 'aedes', source: STALLED },
  { scenario: 'stalled-noack', metric: 'keptRatio', num: 'mosquitto', source: STALLED },
]

/** midge core ÷ aedes on each (scenario, throughput metric) against the goal, then full midge ÷ aedes beside it. */
function core (rows: ReadonlyArray<readonly [string, string]>): GoalSpec[] {
  return rows.flatMap(([scenario, metric]) => [
    { scenario, metric, num: 'midge-core', den: 'aedes', goal: { op: '≥', bound: 1 }, source: CORE },
    { scenario, metric, num: 'midge', den: 'aedes', source: CORE },
  ])
}

/** midge ÷ `off` on each (scenario, throughput metric), then the same on msg per CPU-second, with one bound. */
function onOff (off: BrokerName, bound: number, source: string, rows: ReadonlyArray<readonly [string, string]>): GoalSpec[] {
  return rows.flatMap(([scenario, metric]) => [
    { scenario, metric, num: 'midge', den: off, goal: { op: '≥', bound }, source },
    { scenario, metric: 'perCpuSec', num: 'midge', den: off, goal: { op: '≥', bound }, source },
  ])
}

const figure = (num: number | undefined, den: number | undefined, isRatio: boolean): number | undefined =>
  !isRatio ? num : num === undefined || den === undefined || den === 0 ? undefined : num / den

/** Evaluates `specs` on the combined results (medians) and the individual runs (per round). */
export function evaluateGoals (specs: readonly GoalSpec[], combined: readonly RunResult[], runs: readonly RunResult[], quick: boolean): GoalResult[] {
  const find = (list: readonly RunResult[], scenario: string, broker: BrokerName | undefined, round?: number): RunResult | undefined =>
    broker === undefined ? undefined : list.find((r) => r.scenario === scenario && r.broker === broker && (round === undefined || r.round === round))
  return specs.flatMap((spec) => {
    const isRatio = spec.den !== undefined
    const num = find(combined, spec.scenario, spec.num)
    const den = find(combined, spec.scenario, spec.den)
    if (num === undefined || (isRatio && den === undefined)) return []
    const value = figure(valueOf(num, spec.metric), valueOf(den, spec.metric), isRatio)
    const rounds = [...new Set(runs.filter((r) => r.scenario === spec.scenario).map((r) => r.round))].sort((a, b) => a - b)
    const perRound = rounds.flatMap((round) => {
      const v = figure(valueOf(find(runs, spec.scenario, spec.num, round), spec.metric), valueOf(find(runs, spec.scenario, spec.den, round), spec.metric), isRatio)
      return v === undefined ? [] : [v]
    })
    const metricLabel = num.metrics.find((m) => m.key === spec.metric)?.label ?? den?.metrics.find((m) => m.key === spec.metric)?.label ?? spec.metric
    const label = spec.label ?? (isRatio && spec.den !== undefined ? `${BROKER_LABELS[spec.num]} / ${BROKER_LABELS[spec.den]}` : BROKER_LABELS[spec.num])
    const verdict: GoalResult['verdict'] = spec.goal === undefined
      ? ''
      : value === undefined ? 'n/a' : quick && spec.fullOnly === true ? 'quick' : meets(value, spec.goal) ? 'ok' : 'MISS'
    const result: GoalResult = {
      label,
      scenario: spec.scenario,
      metric: spec.metric,
      metricLabel,
      kind: isRatio ? 'ratio' : 'value',
      num: spec.num,
      ...(spec.den !== undefined ? { den: spec.den } : {}),
      value: value ?? null,
      perRound,
      ...(spec.goal !== undefined ? { goal: spec.goal } : {}),
      source: spec.source,
      verdict,
    }
    return [result]
  })
}

const meets = (value: number, goal: { op: '≥' | '≤', bound: number }): boolean => (goal.op === '≥' ? value >= goal.bound : value <= goal.bound)
