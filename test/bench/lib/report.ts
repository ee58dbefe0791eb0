/**
 * Rendering of bench results: a fixed-width table per run (figures for each
 * broker and the midge/aedes ratio), the issues' figures against their goals,
 * a broker-RSS table, warnings, and the JSON file.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { BROKER_LABELS, BROKER_ORDER, type BrokerName } from './broker-names.js'
import type { GoalResult } from './goals.js'
import type { RunResult } from './results.js'
import type { Metric } from '../scenarios/types.js'

const MIB = 1024 * 1024

/** 3 significant digits below 100, integers with separators above. */
export function formatNumber (v: number): string {
  if (!Number.isFinite(v)) return 'n/a'
  const abs = Math.abs(v)
  if (abs >= 100) return Math.round(v).toLocaleString('en-US')
  if (abs >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

const ratio = (midge: number | undefined, aedes: number | undefined): string =>
  midge === undefined || aedes === undefined || !Number.isFinite(midge) || !Number.isFinite(aedes) || aedes === 0
    ? ''
    : `${(midge / aedes).toFixed(2)}×`

/** Left-aligned text in the first `textColumns` columns, right-aligned figures after them. */
function table (header: string[], rows: string[][], textColumns = 2): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < textColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Columns: aedes, midge, the ratio, then every other broker and variant that ran. */
function columns (results: readonly RunResult[]): BrokerName[] {
  const present = new Set(results.map((r) => r.broker))
  return BROKER_ORDER.filter((b) => present.has(b))
}

function header (brokers: readonly BrokerName[], first: string[]): string[] {
  const cells = [...first]
  for (const b of brokers) {
    cells.push(BROKER_LABELS[b])
    if (b === 'midge' && brokers.includes('aedes')) cells.push('midge/aedes')
  }
  return cells
}

const shortError = (error: string | undefined): string => `ERR: ${(error ?? '').split('\n')[0]?.slice(0, 40) ?? ''}`

/** The main table: one row per (scenario, headline metric). */
export function renderResults (scenarioOrder: readonly string[], results: readonly RunResult[]): string {
  const brokers = columns(results)
  const rows: string[][] = []
  for (const scenario of scenarioOrder) {
    const runs = new Map(results.filter((r) => r.scenario === scenario).map((r) => [r.broker, r]))
    if (runs.size === 0) continue
    const keys: Metric[] = []
    for (const r of runs.values()) {
      for (const m of r.metrics) if (m.detail !== true && !keys.some((k) => k.key === m.key)) keys.push(m)
    }
    if (keys.length === 0) keys.push({ key: '-', label: '-', value: Number.NaN, better: 'higher' })
    keys.forEach((k, index) => {
      const row = [index === 0 ? scenario : '', k.key === '-' ? '-' : `${k.label} ${k.better === 'higher' ? '↑' : '↓'}`]
      const value = (b: BrokerName): number | undefined => runs.get(b)?.metrics.find((m) => m.key === k.key)?.value
      for (const b of brokers) {
        const run = runs.get(b)
        const v = value(b)
        row.push(run === undefined ? '' : !run.ok ? (index === 0 ? shortError(run.error) : 'ERR') : v === undefined ? '' : formatNumber(v))
        if (b === 'midge' && brokers.includes('aedes')) row.push(ratio(value('midge'), value('aedes')))
      }
      rows.push(row)
    })
  }
  return table(header(brokers, ['scenario', 'metric']), rows)
}

/** Broker RSS at the end of each scenario, MiB. */
export function renderRss (scenarioOrder: readonly string[], results: readonly RunResult[]): string {
  const brokers = columns(results)
  const rows: string[][] = []
  for (const scenario of scenarioOrder) {
    const runs = new Map(results.filter((r) => r.scenario === scenario).map((r) => [r.broker, r]))
    if (runs.size === 0) continue
    const mib = (b: BrokerName): number | undefined => {
      const bytes = runs.get(b)?.rssEndBytes
      return bytes === undefined ? undefined : bytes / MIB
    }
    const row = [scenario, 'RSS MiB ↓']
    for (const b of brokers) {
      const v = mib(b)
      row.push(runs.has(b) ? (v === undefined ? 'n/a' : formatNumber(v)) : '')
      if (b === 'midge' && brokers.includes('aedes')) row.push(ratio(mib('midge'), mib('aedes')))
    }
    rows.push(row)
  }
  return table(header(brokers, ['scenario', 'at end']), rows)
}

const signed = (v: number): string => `${v.toFixed(2)}×`

/** The issues' figures, grouped under the issue that states them: value, per-round range, goal. */
export function renderGoals (goals: readonly GoalResult[]): string {
  const show = (g: GoalResult, v: number): string => (g.kind === 'ratio' ? signed(v) : formatNumber(v))
  const rows = goals.map((g) => [
    `  ${g.label}`,
    g.scenario,
    g.metricLabel,
    g.value === null ? 'n/a' : show(g, g.value),
    g.goal === undefined ? '' : `${g.goal.op} ${g.kind === 'ratio' ? signed(g.goal.bound) : formatNumber(g.goal.bound)}`,
    g.verdict,
    g.perRound.length > 1 ? `${show(g, Math.min(...g.perRound))}–${show(g, Math.max(...g.perRound))}` : '',
  ])
  const lines = table(['figure', 'scenario', 'metric', 'value', 'goal', '', 'per round'], rows, 3).split('\n')
  // Header and rule, then each group's title line before its first row.
  const out = lines.slice(0, 2)
  goals.forEach((g, i) => {
    if (i === 0 || goals[i - 1]?.source !== g.source) out.push(g.source)
    out.push(lines[i + 2] ?? '')
  })
  return out.join('\n')
}

/** Warnings of every run, by scenario and broker. */
export function renderWarnings (results: readonly RunResult[]): string {
  return results.flatMap((r) => r.warnings.map((w) => `${r.scenario} on ${BROKER_LABELS[r.broker]}: ${w}`)).join('\n')
}

/** Full error text of every failed run. */
export function renderErrors (results: readonly RunResult[]): string {
  return results.filter((r) => !r.ok).map((r) => `${r.scenario} on ${r.broker}: ${r.error ?? 'unknown error'}`).join('\n')
}

export async function writeJson (path: string, data: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, JSON.stringify(data, null, 2) + '\n')
}
