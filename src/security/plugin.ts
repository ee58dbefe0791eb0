import type { SecurityConfig } from '../config/sections/security.js'
import { definePlugin } from '../core/plugin-api.js'
import { ConfigError } from '../errors.js'
import { SecurityFileError } from './password-file.js'
import { SecurityPolicy } from './policy.js'
import { registerReloader } from './reload.js'

const LOOPBACK = /^(127\.|::1$|localhost$)/

/**
 * Passwords (scrypt password file), ACLs (Mosquitto-style file) and the
 * CONNECT-time identity from TLS client certificates. Registered first, so
 * its refusals lead every chain. Options: the `security` config section
 * (default: `broker.config.security`). Socket-level limits (packet size,
 * publish and connection rates) live in `src/listeners`, not here: they must
 * act before aedes parses a byte.
 */
export const securityPlugin = definePlugin<SecurityConfig | undefined>({
  name: 'security',
  async register (broker, options) {
    const config = options ?? broker.config.security
    const log = broker.log
    let policy: SecurityPolicy
    try {
      policy = await SecurityPolicy.load(config)
    } catch (err) {
      if (!(err instanceof SecurityFileError)) throw err
      const path = err.file === config.aclFile ? 'security.aclFile' : 'security.passwordFile'
      throw new ConfigError([{ path, message: err.message }], { cause: err })
    }

    // Refusals are logged at info with who and from where: the operator's answer to "why does this
    // device keep dropping?". Withheld deliveries are not (one per message would flood the log).
    broker.hooks.add('authenticate', async (client, username, password) => {
      const verdict = await policy.authenticate(client, username, password)
      if (verdict === 'deny' || typeof verdict === 'object') {
        const returnCode = verdict === 'deny' ? 5 : verdict.deny
        log.info({ clientId: client.id, username, remoteAddress: client.remoteAddress, listener: client.listener, returnCode },
          returnCode === 4 ? 'connection refused: bad user name or password' : 'connection refused: not authorized')
      }
      return verdict
    })
    if (policy.hasAcl) {
      broker.hooks.add('authorizePublish', (client, packet) => {
        const verdict = policy.authorizePublish(client, packet)
        if (verdict === 'deny' && client !== undefined) log.info({ clientId: client.id, username: client.username, remoteAddress: client.remoteAddress, topic: packet.topic }, 'publish denied by ACL: connection closed')
        return verdict
      })
      broker.hooks.add('authorizeSubscribe', (client, subscription) => {
        const verdict = policy.authorizeSubscribe(client, subscription)
        if (verdict === 'deny') log.info({ clientId: client.id, username: client.username, remoteAddress: client.remoteAddress, filter: subscription.topic }, 'subscribe denied by ACL: SUBACK 0x80')
        return verdict
      })
      broker.hooks.add('authorizeForward', (client, packet) => policy.authorizeForward(client, packet))
    }

    const unregister = registerReloader(broker.id, async () => {
      try {
        await policy.reload()
      } catch (err) {
        log.error({ err: (err as Error).message }, 'security files not reloaded: the previous ones stay in force')
        throw err
      }
      log.info({ passwordFile: config.passwordFile, aclFile: config.aclFile }, 'security files reloaded')
    })
    broker.onClose(unregister)

    const open = broker.config.listeners.filter((l) => l.type !== 'http' && !LOOPBACK.test(l.host))
    if (config.allowAnonymous && open.length > 0) {
      log.warn({ listeners: open.map((l) => l.name ?? l.type) }, 'anonymous clients are allowed on a non-loopback listener')
    }
    log.debug({ allowAnonymous: config.allowAnonymous, passwordFile: config.passwordFile, aclFile: config.aclFile }, 'security ready')
  },
})
