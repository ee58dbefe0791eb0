/** The contract between the runner and a scenario. */
import type { BrokerName } from '../lib/broker-names.js'
import type { StartOptions } from '../lib/brokers.js'
import type { CpuSample } from '../lib/cpu.js'

export interface Metric {
  /** Stable key for the JSON output, e.g. `msgPerSec`. */
  key: string
  /** Table label with unit, e.g. `msg/s`. */
  label: string
  value: number
  better: 'higher' | 'lower'
  /** Shown only in the JSON output. */
  detail?: boolean
}

export interface ScenarioContext {
  readonly broker: BrokerName
  readonly host: string
  readonly port: number
  readonly quick: boolean
  /** Broker RSS in bytes, after a full GC for the Node brokers. */
  rss(): Promise<number>
  /** Broker CPU time so far (all its threads); take one before and one after the measured interval. */
  cpu(): Promise<CpuSample>
  /** Progress line on stderr. */
  log(message: string): void
  /**
   * Something the figures alone would hide (messages lost, duplicates, a phase
   * that ran out of time): shown under the table and kept in the JSON.
   */
  warn(message: string): void
}

export interface Scenario {
  readonly name: string
  /** One line for the report: what is measured and with which load. */
  describe(quick: boolean): string
  /**
   * The brokers (and midge variants) this scenario runs on, when selected
   * (default `DEFAULT_BROKERS`): a variant only where it answers a question.
   */
  readonly brokers?: readonly BrokerName[]
  /** Left out of a full run; runs only when `--only` names it. */
  readonly optional?: boolean
  /** Broker settings the scenario needs (e.g. queue bounds above its backlog). */
  readonly brokerOptions?: StartOptions
  /** Hard bound on one run, in ms. */
  timeoutMs(quick: boolean): number
  run(ctx: ScenarioContext): Promise<Metric[]>
}

export const metric = (key: string, label: string, value: number, better: Metric['better'], detail = false): Metric =>
  ({ key, label, value, better, ...(detail ? { detail } : {}) })

/**
 * Work per message between two CPU samples: `events` per broker CPU-second
 * (shown; it hardly moves with machine noise) and the broker's CPU and
 * run-queue wait in ms (JSON only; a long wait means a contended run).
 */
export function cpuMetrics (before: CpuSample, after: CpuSample, events: number, unit = 'msg'): Metric[] {
  const cpuMs = after.cpuMs - before.cpuMs
  return [
    metric('perCpuSec', `${unit}/CPU-s`, cpuMs > 0 ? (events * 1000) / cpuMs : Number.NaN, 'higher'),
    metric('brokerCpuMs', 'broker CPU ms', cpuMs, 'lower', true),
    metric('brokerWaitMs', 'broker run-queue wait ms', after.waitMs - before.waitMs, 'lower', true),
  ]
}
