/** The contract between the runner and a scenario. */
import type { BrokerName, StartOptions } from '../lib/brokers.js'

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
}

export interface Scenario {
  readonly name: string
  /** One line for the report: what is measured and with which load. */
  describe(quick: boolean): string
  /** Brokers beyond the selected set that this scenario also runs (e.g. `aedes-nagle`). */
  readonly extraBrokers?: readonly BrokerName[]
  /** Broker settings the scenario needs (e.g. queue bounds above its backlog). */
  readonly brokerOptions?: StartOptions
  /** Hard bound on one run, in ms. */
  timeoutMs(quick: boolean): number
  run(ctx: ScenarioContext): Promise<Metric[]>
}

export const metric = (key: string, label: string, value: number, better: Metric['better'], detail = false): Metric =>
  ({ key, label, value, better, ...(detail ? { detail } : {}) })
