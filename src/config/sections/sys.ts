import { z } from 'zod'

/** `$SYS` topics and metrics. */
export const sysSchema = z.strictObject({
  /** Seconds between `$SYS/broker/...` publications; 0 = off. */
  interval: z.number().int().min(0).default(10),
}).prefault({})
