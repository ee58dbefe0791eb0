import { z } from 'zod'

/** Clustering over a shared Redis. */
export const clusterSchema = z.strictObject({
  /** `redis://host:port/db`; set → Redis emitter and store. */
  redis: z.string().min(1).optional(),
}).prefault({})
