import type { SecurityConfig } from '../config/sections/security.js'
import type { AuthVerdict, InboundPublish, OutboundPublish, SubscriptionRequest, Verdict } from '../core/hooks.js'
import type { ClientInfo } from '../core/message.js'
import { Acl, type ClientAcl } from './acl.js'
import { readAclFile } from './acl-parser.js'
import { Authenticator } from './authenticator.js'
import { readPasswordFile } from './password-file.js'

/**
 * The security plugin's decisions, one method per hook, over the password
 * and ACL files currently loaded. Every answer is a refusal or a pass
 * (`defer` / `undefined`), never a grant, so later plugins can still refuse.
 */
export class SecurityPolicy {
  readonly #config: SecurityConfig
  readonly #auth: Authenticator
  #acl: Acl | undefined
  /** Each client's compiled rules, tagged with the Acl they came from. */
  readonly #clientAcls = new WeakMap<ClientInfo, { acl: Acl, rules: ClientAcl }>()

  private constructor (config: SecurityConfig, auth: Authenticator, acl: Acl | undefined) {
    this.#config = config
    this.#auth = auth
    this.#acl = acl
  }

  /** Load the configured files; throws `SecurityFileError` if one is unreadable or malformed. */
  static async load (config: SecurityConfig): Promise<SecurityPolicy> {
    const [table, acl] = await readFiles(config)
    return new SecurityPolicy(config, new Authenticator(config, table), acl)
  }

  /** Whether an ACL file is in force (the authorize hooks are only installed then). */
  get hasAcl (): boolean {
    return this.#acl !== undefined
  }

  /** Re-read both files; if either fails, neither changes. */
  async reload (): Promise<void> {
    const [table, acl] = await readFiles(this.#config)
    this.#auth.replaceTable(table)
    this.#acl = acl
  }

  /** `authenticate` hook. */
  authenticate (client: ClientInfo, username: string | undefined, password: Buffer | undefined): Promise<AuthVerdict> {
    return this.#auth.authenticate(client, username, password)
  }

  /** `authorizePublish` hook (wills included). */
  authorizePublish (client: ClientInfo | undefined, packet: InboundPublish): Verdict {
    if (client === undefined) return 'defer' // the broker's own publishes
    if (packet.topic.startsWith('$SYS')) return 'deny' // read-only for clients, whatever the ACL says
    const rules = this.#rulesOf(client)
    return rules === undefined || rules.canWrite(packet.topic) ? 'defer' : 'deny'
  }

  /** `authorizeSubscribe` hook: a refusal becomes SUBACK 0x80. */
  authorizeSubscribe (client: ClientInfo, subscription: SubscriptionRequest): Verdict {
    const rules = this.#rulesOf(client)
    return rules === undefined || rules.canSubscribe(subscription.topic) ? 'defer' : 'deny'
  }

  /** `authorizeForward` hook: every delivery, retained and `$SYS` included. */
  authorizeForward (client: ClientInfo, packet: OutboundPublish): null | undefined {
    const rules = this.#rulesOf(client)
    return rules === undefined || rules.canRead(packet.topic) ? undefined : null
  }

  /** The username ACLs see: the CONNECT username, or the certificate CN when that authenticates. */
  #identity (client: ClientInfo): string | undefined {
    return client.username ?? (this.#config.useCertificateAsUsername ? client.certificateCN : undefined)
  }

  #rulesOf (client: ClientInfo): ClientAcl | undefined {
    const acl = this.#acl
    if (acl === undefined) return undefined
    const cached = this.#clientAcls.get(client)
    if (cached !== undefined && cached.acl === acl) return cached.rules
    const rules = acl.forClient({ username: this.#identity(client), clientId: client.id })
    this.#clientAcls.set(client, { acl, rules })
    return rules
  }
}

async function readFiles (config: SecurityConfig): Promise<[Awaited<ReturnType<typeof readPasswordFile>> | undefined, Acl | undefined]> {
  const [table, rules] = await Promise.all([
    config.passwordFile === undefined ? undefined : readPasswordFile(config.passwordFile),
    config.aclFile === undefined ? undefined : readAclFile(config.aclFile),
  ])
  return [table, rules === undefined ? undefined : new Acl(rules)]
}
