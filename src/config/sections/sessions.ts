import { z } from 'zod'

/** Session store and its bounds (persistent-sessions plugin). */
export const sessionsSchema = z.strictObject({
  /** `nedb`: files in `dataDir` (default); `memory`: lost on restart; `redis`: shared by a cluster. */
  store: z.enum(['nedb', 'memory', 'redis']).default('nedb'),
  /** Seconds a disconnected persistent session is kept; 0 = forever. */
  sessionExpiry: z.number().int().min(0).default(7 * 24 * 3600),
  /** Most messages queued per session; overflow drops the lowest-priority, oldest one (reported). */
  maxQueued: z.number().int().min(1).default(10_000),
  /** Seconds between store compactions (also done at start). */
  compactInterval: z.number().int().min(10).default(3600),
}).prefault({})
