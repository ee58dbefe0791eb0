import { z } from 'zod'
import { topicFilterSchema } from './topic-filter.js'

/** A priority: 0–9, 9 first. */
const priority = z.number().int().min(0).max(9)

/** One priority rule; the first rule that matches a message decides its priority. */
export const priorityRuleSchema = z.strictObject({
  /** Topic filter the message topic must match (`+` and `#` allowed). */
  filter: topicFilterSchema,
  /** Only messages published by this client id. Never matches the broker's own publishes. */
  clientId: z.string().min(1).optional(),
  /** Only messages published by a client authenticated as this user. Never matches the broker's own publishes. */
  username: z.string().min(1).optional(),
  priority,
})

/** Priority delivery (plugins/priority-delivery). */
export const prioritySchema = z.strictObject({
  /** Priority of a message no rule matches (0–9, 9 first). */
  defaultPriority: priority.default(4),
  /** First match wins: topic filter (wildcards allowed) and optional publisher client id / username. */
  rules: z.array(priorityRuleSchema).default([]),
  /**
   * How waiting messages are handed over. `strict`: always the highest priority
   * first. `weighted`: priorities with waiting messages share the hand-overs in
   * proportion to `priority + 1` (so 9 vs 0 is 10:1), and no priority starves.
   */
  mode: z.enum(['strict', 'weighted']).default('strict'),
}).prefault({})

/** The validated `priority` section. */
export type PriorityConfig = z.output<typeof prioritySchema>
/** One validated priority rule. */
export type PriorityRule = z.output<typeof priorityRuleSchema>
/** What a user may write for the `priority` section. */
export type PriorityConfigInput = z.input<typeof prioritySchema>
