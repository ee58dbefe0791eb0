import { z } from 'zod'
import { filterError } from '../../core/topic.js'

/** A topic filter as a client could subscribe to it (`+` and `#` where the spec allows them). */
export const topicFilterSchema = z.string().min(1).superRefine((filter, ctx) => {
  const invalid = filterError(filter)
  if (invalid !== undefined) ctx.addIssue({ code: 'custom', message: `invalid topic filter: ${invalid}` })
})
