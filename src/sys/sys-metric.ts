import { Counter, Gauge, type Registry } from 'prom-client'
import { BrokerError } from '../errors.js'

/** Label values of one series, by label name. */
export type SysLabels<L extends string> = Readonly<Record<L, string>>

/** One series a `read` callback reports: its label values and its current value. */
export type SysSample<L extends string> = readonly [labels: SysLabels<L>, value: number]

/** What a `read` callback returns: one number (no labels) or one sample per series. */
export type SysReading<L extends string> = number | Iterable<SysSample<L>>

/**
 * A metric that lives in the broker's prom-client registry (so `/metrics`
 * serves it) and is also published under `$SYS/broker/` by the sys plugin.
 */
export interface SysMetricSpec<L extends string = never> {
  /** `counter` only goes up (name ends in `_total`); `gauge` is a level. */
  type: 'counter' | 'gauge'
  /** Prometheus name: `midge_` prefix, snake_case. */
  name: string
  help: string
  labelNames?: readonly L[]
  /**
   * Topic below `$SYS/broker/`. A template whose `<label>` parts take the
   * series' label values (`midge/dead_letters/<reason>`; every label must
   * appear), or a function returning one topic or several (aliases).
   */
  sysTopic: string | ((labels: SysLabels<L>) => string | readonly string[])
  /**
   * Current value(s), called at scrape and publish time only. Keep plain
   * number fields on the hot path and return them here. Omit `read` to
   * update the metric yourself (`inc`, `set`): fine for rare events.
   */
  read?: () => SysReading<L> | Promise<SysReading<L>>
  /** `$SYS` payload for a value. Default: integers as is, others with two decimals (as Mosquitto). */
  format?: (value: number, labels: SysLabels<L>) => string
}

/** What the publisher needs of one `$SYS` metric. */
export interface SysBinding {
  readonly name: string
  readonly metric: Counter<string> | Gauge<string>
  /** Full topics (with `$SYS/broker/`) of one series. */
  topics(labels: SeriesLabels): readonly string[]
  payload(value: number, labels: SeriesLabels): string
}

/** Label values of a series as prom-client reports them. */
export type SeriesLabels = Readonly<Partial<Record<string, string | number>>>

/** Root of the Mosquitto-compatible tree. */
export const SYS_PREFIX = '$SYS/broker/'

interface Entry {
  spec: SysMetricSpec<string>
  binding: SysBinding
}

// Keyed by registry, so brokers in one process never see each other's metrics.
const entries = new WeakMap<Registry, Map<string, Entry>>()

/**
 * Define a counter in `registry` that is also published under `$SYS/broker/`.
 * Defining the same name again without `read` (same type, labels, topic)
 * returns the existing metric, so an owner and the sys plugin can share an
 * `inc`-updated counter in any registration order; any other clash throws
 * `ERR_METRIC_DEFINITION`.
 *
 * @example
 * // In a plugin's register(): figures stay plain numbers on the hot path; prom-client reads them when
 * // it collects (a /metrics scrape or a $SYS tick). Names and topics come from the catalog.
 * defineSysMetric(broker.metrics, {
 *   ...SYS_METRICS.groupQueued, // gauge midge_group_queued_messages{group}, $SYS/broker/midge/groups/<group>/queued
 *   read: () => [...groups.values()].map((g) => [{ group: g.name }, g.queue.length] as const),
 * })
 * const expired = defineSysMetric(broker.metrics, SYS_METRICS.clientsExpired) // no read: updated by hand
 * expired.inc()
 */
export function defineSysMetric<L extends string = never> (registry: Registry, spec: SysMetricSpec<L> & { type: 'counter' }): Counter<L>
/** Define a gauge in `registry` that is also published under `$SYS/broker/`. */
export function defineSysMetric<L extends string = never> (registry: Registry, spec: SysMetricSpec<L> & { type: 'gauge' }): Gauge<L>
export function defineSysMetric<L extends string = never> (registry: Registry, spec: SysMetricSpec<L>): Counter<L> | Gauge<L> {
  let byName = entries.get(registry)
  if (byName === undefined) {
    byName = new Map()
    entries.set(registry, byName)
  }
  const generic = spec as unknown as SysMetricSpec<string>
  const labelNames = spec.labelNames ?? []
  if (registry.getSingleMetric(spec.name) !== undefined) {
    const existing = byName.get(spec.name)
    if (existing !== undefined && sameShape(existing.spec, generic)) return existing.binding.metric as Counter<L> | Gauge<L>
    throw new BrokerError('ERR_METRIC_DEFINITION', `metric ${spec.name} is already defined${existing === undefined ? ' (without a $SYS topic)' : ' with another shape or its own read()'}`)
  }
  const topics = topicsOf(generic)
  const read = spec.read
  let metric: Counter<L> | Gauge<L>
  // prom-client runs `collect` before every read of the metric (scrape or $SYS tick).
  const collect = read === undefined ? undefined : (): void | Promise<void> => {
    const reading = read()
    return reading instanceof Promise ? reading.then((r) => { apply(metric, r) }) : apply(metric, reading)
  }
  const config = { name: spec.name, help: spec.help, labelNames, registers: [registry], ...(collect === undefined ? {} : { collect }) }
  metric = spec.type === 'counter' ? new Counter<L>(config) : new Gauge<L>(config)
  const format = spec.format as SysBinding['payload'] | undefined
  byName.set(spec.name, {
    spec: generic,
    binding: { name: spec.name, metric: metric as unknown as Counter<string> | Gauge<string>, topics, payload: format ?? defaultFormat },
  })
  return metric
}

/** Every `$SYS` metric defined in `registry`, in definition order. */
export function sysBindings (registry: Registry): SysBinding[] {
  return [...(entries.get(registry)?.values() ?? [])].map((e) => e.binding)
}

/** Whether `name` is defined in `registry` (by `defineSysMetric` or directly). */
export function hasMetric (registry: Registry, name: string): boolean {
  return registry.getSingleMetric(name) !== undefined
}

function apply<L extends string> (metric: Counter<L> | Gauge<L>, reading: SysReading<L>): void {
  // reset() first: a series the reader no longer reports (a deleted group) disappears.
  metric.reset()
  if (typeof reading === 'number') {
    if (metric instanceof Counter) metric.inc(reading)
    else metric.set(reading)
    return
  }
  for (const [labels, value] of reading) {
    if (metric instanceof Counter) metric.inc(labels as never, value)
    else metric.set(labels as never, value)
  }
}

function sameShape (a: SysMetricSpec<string>, b: SysMetricSpec<string>): boolean {
  return a.read === undefined && b.read === undefined && a.type === b.type &&
    a.sysTopic === b.sysTopic && (a.labelNames ?? []).join() === (b.labelNames ?? []).join()
}

const PLACEHOLDER = /<([A-Za-z_][A-Za-z0-9_]*)>/g

function topicsOf (spec: SysMetricSpec<string>): SysBinding['topics'] {
  const { sysTopic, name } = spec
  const labelNames = spec.labelNames ?? []
  if (typeof sysTopic === 'function') {
    return (labels) => {
      const t = sysTopic(labels as SysLabels<string>)
      return (typeof t === 'string' ? [t] : t).map((topic) => SYS_PREFIX + topic)
    }
  }
  const used = [...sysTopic.matchAll(PLACEHOLDER)].map((m) => m[1] as string)
  const unknown = used.filter((l) => !labelNames.includes(l))
  const missing = labelNames.filter((l) => !used.includes(l))
  // A label missing from the topic would make several series overwrite one retained value.
  if (unknown.length > 0 || missing.length > 0) {
    throw new BrokerError('ERR_METRIC_DEFINITION', `metric ${name}: sysTopic "${sysTopic}" must place exactly its labels (${labelNames.join(', ') || 'none'})`)
  }
  if (used.length === 0) {
    const topics = [SYS_PREFIX + sysTopic]
    return () => topics
  }
  return (labels) => [SYS_PREFIX + sysTopic.replace(PLACEHOLDER, (_, label: string) => topicLevel(labels[label]))]
}

/** A label value made safe as (part of) a topic level: no wildcards, no NUL, never empty. */
function topicLevel (value: string | number | undefined): string {
  const text = String(value ?? '').replace(/[+#\u0000]/g, '_')
  return text === '' ? '_' : text
}

function defaultFormat (value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2)
}
