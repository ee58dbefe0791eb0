import { Registry } from 'prom-client'

/**
 * One registry holds every counter midge keeps; `$SYS` topics and `/metrics`
 * both read from it, so they always agree. Plugins register their own metrics
 * with `registers: [broker.metrics]` and a `midge_` name prefix.
 */
export type MetricsRegistry = Registry

export function createMetricsRegistry (): MetricsRegistry {
  return new Registry()
}
