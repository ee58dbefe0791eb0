/**
 * Latency statistics from a sorted copy of the samples. Runs here are at most
 * a few tens of thousands of samples, so exact percentiles are cheap; a
 * histogram would only trade accuracy for memory we do not need to save.
 */

export interface Summary {
  count: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/** Nearest-rank percentile (`q` in 0..1) of ascending `sorted`; NaN when empty. */
export function percentile (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(q * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN
}

export function summarize (samples: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const v of sorted) sum += v
  return {
    count: sorted.length,
    min: sorted.length > 0 ? (sorted[0] ?? Number.NaN) : Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
  }
}

/** Median of a few repeat values (NaNs ignored). */
export function median (values: readonly number[]): number {
  const ok = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (ok.length === 0) return Number.NaN
  const mid = ok.length >> 1
  return ok.length % 2 === 1 ? (ok[mid] ?? Number.NaN) : ((ok[mid - 1] ?? 0) + (ok[mid] ?? 0)) / 2
}

/** Events per second over `ms` milliseconds. */
export const perSecond = (events: number, ms: number): number => (ms > 0 ? (events * 1000) / ms : Number.NaN)
