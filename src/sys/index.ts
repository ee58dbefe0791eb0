/**
 * What plugins use of the sys plugin: the seam to publish a figure under
 * `$SYS/broker/` and in `/metrics`, and the agreed names.
 */
export { defineSysMetric, SYS_PREFIX, type SysLabels, type SysMetricSpec, type SysReading, type SysSample } from './sys-metric.js'
export { SYS_METRICS } from './catalog.js'
export { SubscriptionTally } from './subscription-tally.js'
