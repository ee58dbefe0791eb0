import { z } from 'zod'

/** Authentication and authorization. */
export const securitySchema = z.strictObject({
  /** Accept clients without credentials (as Mosquitto 2 on loopback). */
  allowAnonymous: z.boolean().default(true),
  /** `user:scrypt-hash` lines written by `midge passwd`; unset = no password check. */
  passwordFile: z.string().min(1).optional(),
  /** ACL rules file; unset = everything allowed except `$SYS` publishes. */
  aclFile: z.string().min(1).optional(),
}).prefault({})
