import { z } from 'zod'

/** `$SYS` topics and metrics. */
export const sysSchema = z.strictObject({
  /**
   * Seconds between `$SYS/broker/...` publications; 0 = off (`/metrics` stays on,
   * without load averages, which are sampled at these ticks).
   */
  interval: z.number().int().min(0).default(10),
}).prefault({})

/** The validated `sys` section. */
export type SysConfig = z.output<typeof sysSchema>
