import { collectDefaultMetrics, Registry, type Metric } from 'prom-client'
import type { HttpRoute } from '../listeners/http.js'

/** Prefix of prom-client's process metrics (`midge_process_cpu_seconds_total`, `midge_nodejs_heap_size_used_bytes`, …). */
export const PROCESS_METRICS_PREFIX = 'midge_'

// Process figures belong to the process, not to a broker: prom-client's
// collectors start an event-loop monitor and a GC observer that cannot be
// stopped, so they are made once and shared by every broker in the process.
let processMetrics: Metric[] | undefined

/** Add prom-client's default process metrics (CPU, memory, event loop, GC) to `registry`. */
export function registerProcessMetrics (registry: Registry): void {
  if (processMetrics === undefined) {
    const own = new Registry()
    collectDefaultMetrics({ register: own, prefix: PROCESS_METRICS_PREFIX })
    // Typed as plain objects, but prom-client returns the metric instances themselves.
    processMetrics = own.getMetricsAsArray() as unknown as Metric[]
  }
  for (const metric of processMetrics) registry.registerMetric(metric)
}

/** `GET /metrics`: the registry in Prometheus text format, collected on each scrape. */
export function metricsRoute (registry: Registry): HttpRoute {
  return async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() })
}
