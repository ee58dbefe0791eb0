import { z } from 'zod'

/** Priority delivery (plugins/priority-delivery). */
export const prioritySchema = z.strictObject({
  /** Priority of a message no rule matches (0–9, 9 first). */
  defaultPriority: z.number().int().min(0).max(9).default(4),
  /** First match wins: topic filter (wildcards allowed) and optional publisher client id / username. */
  rules: z.array(z.strictObject({
    filter: z.string().min(1),
    clientId: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    priority: z.number().int().min(0).max(9),
  })).default([]),
  /** `strict`: always highest first; `weighted`: lower priorities get a fixed share so they never starve. */
  mode: z.enum(['strict', 'weighted']).default('strict'),
}).prefault({})
