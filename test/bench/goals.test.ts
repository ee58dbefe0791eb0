import { describe, expect, it } from 'vitest'
import type { BrokerName } from './lib/broker-names.js'
import { evaluateGoals, type GoalSpec } from './lib/goals.js'
import { renderGoals } from './lib/report.js'
import { combineRuns, type RunResult } from './lib/results.js'

const run = (broker: BrokerName, round: number, value: number, ok = true): RunResult => ({
  scenario: 'fanin-qos1',
  broker,
  order: round,
  round,
  ok,
  metrics: ok ? [{ key: 'msgPerSec', label: 'msg/s', value, better: 'higher' }] : [],
  warnings: [],
  elapsedMs: 1,
})

const combined = (runs: RunResult[]): RunResult[] =>
  [...new Set(runs.map((r) => r.broker))].map((b) => combineRuns(runs.filter((r) => r.broker === b)))

const ratio: GoalSpec = { scenario: 'fanin-qos1', metric: 'msgPerSec', num: 'midge', den: 'midge-nopriority', goal: { op: '≥', bound: 0.9 }, source: 'issue A' }

describe('bench goals', () => {
  it('divides the medians and pairs the runs of each round for the range', () => {
    const runs = [run('midge', 0, 90), run('midge-nopriority', 0, 100), run('midge', 1, 80), run('midge-nopriority', 1, 50), run('midge', 2, 100), run('midge-nopriority', 2, 200)]
    const [g] = evaluateGoals([ratio], combined(runs), runs, false)
    expect(g?.value).toBeCloseTo(90 / 100)
    expect(g?.perRound).toEqual([0.9, 1.6, 0.5])
    expect(g?.verdict).toBe('ok')
  })

  it('says MISS below the goal and leaves out a figure whose broker did not run', () => {
    const runs = [run('midge', 0, 80), run('midge-nopriority', 0, 100)]
    const missing: GoalSpec = { ...ratio, den: 'midge-nosys' }
    const goals = evaluateGoals([ratio, missing], combined(runs), runs, false)
    expect(goals).toHaveLength(1)
    expect(goals[0]?.verdict).toBe('MISS')
  })

  it('reports n/a when a run failed, and does not judge full-count goals on a quick run', () => {
    const runs = [run('midge', 0, 0, false), run('midge-nopriority', 0, 100)]
    expect(evaluateGoals([ratio], combined(runs), runs, false)[0]?.verdict).toBe('n/a')
    const single: GoalSpec = { scenario: 'fanin-qos1', metric: 'msgPerSec', num: 'midge-nopriority', goal: { op: '≤', bound: 10 }, source: 'issue B', fullOnly: true }
    expect(evaluateGoals([single], combined(runs), runs, true)[0]?.verdict).toBe('quick')
    expect(evaluateGoals([single], combined(runs), runs, false)[0]?.verdict).toBe('MISS')
  })

  it('renders each issue as a title over its rows', () => {
    const runs = [run('midge', 0, 95), run('midge-nopriority', 0, 100)]
    const text = renderGoals(evaluateGoals([ratio, { ...ratio, goal: undefined, source: 'issue B' }], combined(runs), runs, false))
    const lines = text.split('\n')
    expect(lines[2]).toBe('issue A')
    expect(lines[3]).toMatch(/^ {2}midge \/ midge −priority\s+fanin-qos1\s+msg\/s\s+0\.95×\s+≥ 0\.90×\s+ok$/)
    expect(lines[4]).toBe('issue B')
  })
})
