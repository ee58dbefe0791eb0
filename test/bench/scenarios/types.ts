/** The contract between the runner and a scenario. */
import type { BrokerName } from '../lib/broker-names.js'
import type { StartOptions } from '../lib/brokers.js'

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
