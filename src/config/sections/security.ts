import { z } from 'zod'

/**
 * Authentication and authorization. The defaults match Mosquitto 2 on
 * loopback: anonymous clients welcome, no ACL. Setting `allowAnonymous: false`
 * with a `passwordFile` (and an `aclFile`) opens a broker to the network safely.
 */
export const securitySchema = z.strictObject({
  /**
   * Accept clients that send no username. Clients that do send one are always
   * checked against `passwordFile` when it is set.
   */
  allowAnonymous: z.boolean().default(true),
  /** `user:$scrypt$…` lines written by `midge passwd`; reloaded on SIGHUP. Unset = no password check. */
  passwordFile: z.string().min(1).optional(),
  /**
   * Mosquitto-style ACL file (`user`, `topic`, `pattern` with `%u` / `%c`);
   * reloaded on SIGHUP. Set = deny unless granted, `$SYS` / `$DLQ` included.
   * Unset = everything allowed except client publishes to `$SYS`.
   */
  aclFile: z.string().min(1).optional(),
  /**
   * On TLS listeners with `requestCert`, a verified client certificate
   * authenticates the client and its subject CN is its username for ACLs
   * (a CONNECT username, if sent, must equal the CN).
   */
  useCertificateAsUsername: z.boolean().default(false),
}).prefault({})

/** The validated `security` section. */
export type SecurityConfig = z.output<typeof securitySchema>
