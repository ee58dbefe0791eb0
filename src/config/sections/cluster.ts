import { z } from 'zod'

/** Clustering over a shared Redis. */
export const clusterSchema = z.strictObject({
  /** `redis://host:port/db`; set → Redis emitter and store. */
  redis: z.string().refine((url) => {
    try {
      return ['redis:', 'rediss:'].includes(new URL(url).protocol)
    } catch {
      return false
    }
  }, 'expected a redis://host:port/db URL').optional(),
}).prefault({})
