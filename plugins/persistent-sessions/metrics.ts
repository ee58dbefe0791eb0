import type { MetricsRegistry } from '../../src/sys/metrics.js'
import { defineSysMetric, SYS_METRICS } from '../../src/sys/index.js'
import type { StoreFigures } from './store/tally.js'

/** The store as the metrics read it (the nedb store; built only when the broker starts). */
export interface FigureSource {
  figures(): StoreFigures
  diskBytes(): Promise<number>
  readonly compactionFailures: number
}

/**
 * The figures only the nedb session store knows across restarts, as `$SYS`
 * topics and `/metrics` (names from the catalog). Each read is a few field
 * loads from the store's running counts, and one `stat` for the file size:
 * nothing scans the datafile. Before the store is up every figure reads 0.
 *
 * `subscriptions`: the store counts persistent sessions' ones (restored at
 * start, gone with an expired session); aedes never stores clean sessions'
 * ones, so `cleanSubscriptions` counts those from events.
 */
export function defineStoreMetrics (registry: MetricsRegistry, source: () => FigureSource | undefined, cleanSubscriptions: () => number, now: () => number = Date.now): void {
  const read = (pick: (f: StoreFigures) => number) => (): number => {
    const figures = source()?.figures()
    return figures === undefined ? 0 : pick(figures)
  }
  defineSysMetric(registry, { ...SYS_METRICS.sessionQueued, read: read((f) => f.queued) })
  defineSysMetric(registry, {
    ...SYS_METRICS.sessionOldestAge,
    read: read((f) => f.oldestQueuedAt === undefined ? 0 : Math.max(0, (now() - f.oldestQueuedAt) / 1000)),
  })
  defineSysMetric(registry, { ...SYS_METRICS.storeBytes, read: async () => await source()?.diskBytes() ?? 0 })
  defineSysMetric(registry, { ...SYS_METRICS.storeCompactionsFailed, read: () => source()?.compactionFailures ?? 0 })
  defineSysMetric(registry, { ...SYS_METRICS.storeMessages, read: read((f) => f.messages) })
  defineSysMetric(registry, { ...SYS_METRICS.storeMessageBytes, read: read((f) => f.messageBytes) })
  defineSysMetric(registry, { ...SYS_METRICS.retainedMessages, read: read((f) => f.retained) })
  defineSysMetric(registry, { ...SYS_METRICS.clientsDisconnected, read: read((f) => f.disconnected) })
  defineSysMetric(registry, { ...SYS_METRICS.subscriptions, read: read((f) => f.subscriptions + cleanSubscriptions()) })
}
