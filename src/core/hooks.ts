import { BrokerError } from '../errors.js'
import type { ClientInfo, Message, MessageMeta, QoS } from './message.js'

/** A hook's answer: decide, or leave it to the next hook (`defer`). */
export type Verdict = 'allow' | 'deny' | 'defer'

/** CONNACK return codes a hook may refuse a connection with (MQTT 3.1.1 §3.2.2.3). */
export type ConnackRefusal = 2 | 3 | 4 | 5

/** An authentication answer; `deny` may carry the CONNACK code (default 5, not authorized). */
export type AuthVerdict = 'allow' | 'defer' | 'deny' | { deny: ConnackRefusal }

/** What a hook sees of a CONNECT packet. */
export interface ConnectInfo {
  readonly clientId: string
  readonly clean: boolean
  readonly keepalive: number
  readonly protocolVersion: number
  readonly username: string | undefined
}

/**
 * A PUBLISH on its way in. It is the live packet: a hook may set `properties`
 * (metadata that travels with the message); other fields are read-only by contract.
 */
export interface InboundPublish {
  readonly topic: string
  readonly payload: Buffer
  readonly qos: QoS
  readonly retain: boolean
  properties?: MessageMeta
}

/** A SUBSCRIBE entry; `authorizeSubscribe` may rewrite it. */
export interface SubscriptionRequest {
  topic: string
  qos: QoS
}

/** A PUBLISH on its way out to one client. */
export interface OutboundPublish {
  readonly topic: string
  readonly payload: Buffer | string
  readonly qos: QoS
  readonly retain: boolean
  readonly dup?: boolean
  readonly messageId?: number
  readonly properties?: MessageMeta
  readonly [key: string]: unknown
}

/** Hook signatures by name. */
export interface HookMap {
  /** Before anything else about a connection; `deny` closes it without CONNACK. */
  preConnect: (client: ClientInfo, connect: ConnectInfo) => Verdict | Promise<Verdict>
  authenticate: (client: ClientInfo, username: string | undefined, password: Buffer | undefined) => AuthVerdict | Promise<AuthVerdict>
  /** `client` is undefined for the broker's own publishes (wills included are from a client). */
  authorizePublish: (client: ClientInfo | undefined, packet: InboundPublish) => Verdict | Promise<Verdict>
  authorizeSubscribe: (client: ClientInfo, subscription: SubscriptionRequest) => Verdict | { rewrite: SubscriptionRequest } | Promise<Verdict | { rewrite: SubscriptionRequest }>
  /**
   * Synchronous, once per delivery. Return `undefined` to pass the packet on
   * unchanged, `null` to withhold it, or a changed copy (never mutate the input:
   * it is shared by every subscriber).
   */
  authorizeForward: (client: ClientInfo, packet: OutboundPublish) => OutboundPublish | null | undefined
  /** After a publish is stored and routed. Backpressures every publish: keep it cheap. */
  published: (message: Message, client: ClientInfo | undefined) => void | Promise<void>
}

export type HookName = keyof HookMap

const HOOK_NAMES: ReadonlySet<string> = new Set<HookName>([
  'preConnect', 'authenticate', 'authorizePublish', 'authorizeSubscribe', 'authorizeForward', 'published',
])

/** What a plugin may do with hooks: append to a chain. */
export interface Hooks {
  /** Append `fn` to the named chain. Throws `ERR_HOOK_UNKNOWN` for a name that is not a hook. */
  add<K extends HookName> (name: K, fn: HookMap[K]): void
}

interface Entry { fn: HookMap[HookName], owner: string }

/**
 * Named, ordered hook chains. aedes takes one function per hook; the adapter
 * installs one runner per slot and the runner walks the chain in order.
 */
export class HookRegistry {
  readonly #chains = new Map<HookName, Entry[]>()
  /** `chain()` answers, built once per change: the slots read them per packet. */
  readonly #fns = new Map<HookName, ReadonlyArray<HookMap[HookName]>>()

  add<K extends HookName> (name: K, fn: HookMap[K], owner = 'core'): void {
    if (!HOOK_NAMES.has(name)) {
      throw new BrokerError('ERR_HOOK_UNKNOWN', `unknown hook "${String(name)}" from ${owner} (known: ${[...HOOK_NAMES].join(', ')})`)
    }
    if (typeof fn !== 'function') {
      throw new BrokerError('ERR_HOOK_INVALID', `hook "${name}" from ${owner} is not a function`)
    }
    let chain = this.#chains.get(name)
    if (chain === undefined) {
      chain = []
      this.#chains.set(name, chain)
    }
    chain.push({ fn, owner })
    this.#fns.delete(name)
  }

  /** A view that records `owner` on every hook it adds. */
  scoped (owner: string): Hooks {
    return { add: (name, fn) => this.add(name, fn, owner) }
  }

  /** The functions of one chain, in order. */
  chain<K extends HookName> (name: K): ReadonlyArray<HookMap[K]> {
    let fns = this.#fns.get(name)
    if (fns === undefined) {
      fns = Object.freeze((this.#chains.get(name) ?? []).map((e) => e.fn))
      this.#fns.set(name, fns)
    }
    return fns as ReadonlyArray<HookMap[K]>
  }

  /** Who added each hook of a chain, in order (for logs and errors). */
  owners (name: HookName): readonly string[] {
    return (this.#chains.get(name) ?? []).map((e) => e.owner)
  }
}
