import { topicMatches } from '../core/topic.js'
import type { AclRule, AclRules } from './acl-parser.js'

/**
 * Decisions from an ACL file. The rules that apply to a client are its `user`
 * block (or the anonymous block, for clients without a username) plus every
 * `pattern` rule with `%u` / `%c` filled in. Among those, order does not matter:
 *
 * 1. a matching `deny` rule refuses (deny beats allow);
 * 2. else a matching rule with the needed access grants;
 * 3. else the answer is no (with an ACL file, nothing is allowed unless granted).
 *
 * `+` and `#` in the first level never match topics that start with `$`, in
 * rules as in subscriptions [MQTT-4.7.2-1]: `$SYS/#` and `$DLQ/#` must be named.
 */

/** Who a client is, for rule selection and `%u` / `%c`. */
export interface AclIdentity {
  readonly username: string | undefined
  readonly clientId: string
}

/** Read decisions cached per client before the cache is reset. */
const READ_CACHE_SIZE = 1024

/** A whole ACL file, compiled once per load. */
export class Acl {
  readonly #rules: AclRules

  constructor (rules: AclRules) {
    this.#rules = rules
  }

  /** The rules of one client, with patterns substituted. */
  forClient (identity: AclIdentity): ClientAcl {
    const base = identity.username === undefined ? this.#rules.anonymous : (this.#rules.users.get(identity.username) ?? [])
    const rules = [...base]
    for (const pattern of this.#rules.patterns) {
      const rule = substitute(pattern, identity)
      if (rule !== undefined) rules.push(rule)
    }
    return new ClientAcl(rules)
  }
}

/** One client's rules, split by access, with a cache for per-delivery checks. */
export class ClientAcl {
  readonly #deny: string[] = []
  readonly #read: string[] = []
  readonly #write: string[] = []
  readonly #readCache = new Map<string, boolean>()

  constructor (rules: readonly AclRule[]) {
    for (const { access, filter } of rules) {
      if (access === 'deny') this.#deny.push(filter)
      if (access === 'read' || access === 'readwrite') this.#read.push(filter)
      if (access === 'write' || access === 'readwrite') this.#write.push(filter)
    }
  }

  /** May the client publish to `topic`? */
  canWrite (topic: string): boolean {
    return !matchesAny(this.#deny, topic) && matchesAny(this.#write, topic)
  }

  /** May `topic` be delivered to the client? Cached: this runs once per delivery. */
  canRead (topic: string): boolean {
    let answer = this.#readCache.get(topic)
    if (answer === undefined) {
      answer = !matchesAny(this.#deny, topic) && matchesAny(this.#read, topic)
      if (this.#readCache.size >= READ_CACHE_SIZE) this.#readCache.clear()
      this.#readCache.set(topic, answer)
    }
    return answer
  }

  /**
   * May the client subscribe to `filter`? Yes when one read rule covers every
   * topic the filter can match and no deny rule covers all of them; topics a
   * deny rule covers only in part are withheld at delivery (`canRead`).
   * Shared subscriptions are checked on the filter they share.
   */
  canSubscribe (filter: string): boolean {
    const real = sharedFilter(filter)
    return !this.#deny.some((rule) => covers(rule, real)) && this.#read.some((rule) => covers(rule, real))
  }
}

/** A pattern with `%u` / `%c` filled in, or undefined when it does not apply. */
function substitute (rule: AclRule, identity: AclIdentity): AclRule | undefined {
  const usesUser = rule.filter.includes('%u')
  if (usesUser && identity.username === undefined) return undefined
  const values = [usesUser ? identity.username as string : '', rule.filter.includes('%c') ? identity.clientId : '']
  // A value with a wildcard or a level separator would widen a grant to other
  // clients' topics: such a grant is dropped. A deny keeps it (it can only deny more).
  if (rule.access !== 'deny' && values.some((v) => /[+#/\u0000]/.test(v))) return undefined
  const filter = rule.filter.replace(/%[uc]/g, (m) => m === '%u' ? values[0] as string : values[1] as string)
  // Nor may a value turn a grant into one on a `$` topic (`%c/#` for client id `$SYS`):
  // those are granted only by name.
  if (rule.access !== 'deny' && filter.startsWith('$') && !rule.filter.startsWith('$')) return undefined
  return { ...rule, filter }
}

function matchesAny (filters: readonly string[], topic: string): boolean {
  for (const filter of filters) if (topicMatches(filter, topic)) return true
  return false
}

/** `$share/<group>/<filter>` and `$queue/<filter>` → `<filter>`. */
export function sharedFilter (filter: string): string {
  if (filter.startsWith('$queue/')) return filter.slice('$queue/'.length)
  if (filter.startsWith('$share/')) {
    const slash = filter.indexOf('/', '$share/'.length)
    if (slash > 0) return filter.slice(slash + 1)
  }
  return filter
}

/** Does rule filter `rule` match every topic that subscription filter `sub` matches? */
export function covers (rule: string, sub: string): boolean {
  const r = rule.split('/')
  const s = sub.split('/')
  const dollar = sub.startsWith('$')
  for (let i = 0; i < r.length; i++) {
    const level = r[i] as string
    // A leading wildcard never matches `$` topics [MQTT-4.7.2-1].
    if (i === 0 && dollar && (level === '#' || level === '+')) return false
    if (level === '#') return true
    if (i >= s.length) return false
    const want = s[i] as string
    if (want === '#') return false
    if (level === '+') continue
    if (level !== want) return false
  }
  return r.length === s.length
}
