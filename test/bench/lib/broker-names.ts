/**
 * The brokers (and midge variants) the bench knows, how the report names
 * them, and what each one is. Scenarios choose which of these they run on, so
 * a variant costs run time only where it answers a question.
 */
import type { Json } from './json.js'

export type BrokerName =
  | 'aedes'
  | 'midge'
  | 'mosquitto'
  | 'midge-nopriority'
  | 'midge-nosys'
  | 'midge-nedb'
  | 'midge-core'
  | 'aedes-nagle'

/** Column order of the report (and the run order of a round before it alternates). */
export const BROKER_ORDER: readonly BrokerName[] = ['aedes', 'midge', 'mosquitto', 'midge-nopriority', 'midge-nosys', 'midge-nedb', 'midge-core', 'aedes-nagle']

/** The brokers a scenario runs on unless it says otherwise. */
export const DEFAULT_BROKERS: readonly BrokerName[] = ['aedes', 'midge', 'mosquitto']

export const BROKER_LABELS: Record<BrokerName, string> = {
  aedes: 'aedes 1.2',
  midge: 'midge',
  mosquitto: 'mosquitto',
  'midge-nopriority': 'midge −priority',
  'midge-nosys': 'midge −sys',
  'midge-nedb': 'midge nedb',
  'midge-core': 'midge core',
  'aedes-nagle': 'aedes (Nagle on)',
}

/** One line per broker for the report header. */
export const BROKER_DESCRIPTIONS: Record<BrokerName, string> = {
  aedes: 'plain aedes, default options (in-memory persistence, drainTimeout 60 s), TCP_NODELAY',
  midge: 'createBroker() defaults (sys.interval 10, maxInflight 20, all built-in plugins) but sessions.store "memory"',
  mosquitto: 'persistence false (clean=false sessions kept in memory), set_tcp_nodelay true',
  'midge-nopriority': 'midge with omitBuiltins ["priority-delivery"]: no inflight window, every delivery written at once',
  'midge-nosys': 'midge with omitBuiltins ["sys"]: no $SYS topics, no counters, no /metrics',
  'midge-nedb': 'midge with its default durable store: sessions.store "nedb" in a fresh temporary dataDir per run',
  'midge-core': 'midge with every built-in plugin omitted: the core alone (listeners, config, hook chains, spec fixes) on aedes\'s memory store',
  'aedes-nagle': 'aedes on a stock net.createServer (Nagle on), for the request/response scenarios',
}

/**
 * midge settings for every midge variant, on top of midge-server's
 * loopback/silent defaults. The per-session queue bound (default 10,000) is
 * lifted as Mosquitto's is: it also applies to online subscribers whose
 * inflight window is full, so fan-in would measure overflow drops (PUBACKed
 * messages that never arrive) instead of throughput, and the 20k backlog
 * would not fit.
 */
export const MIDGE_BENCH_CONFIG: Json = { sessions: { maxQueued: 1_000_000 } }

/** How midge-server is started for each midge variant. */
export interface MidgeVariant {
  store: 'memory' | 'nedb'
  /** Built-in plugins left out (`createBroker(config, { omitBuiltins })`). */
  omit: readonly string[]
}

export const MIDGE_VARIANTS: Partial<Record<BrokerName, MidgeVariant>> = {
  midge: { store: 'memory', omit: [] },
  'midge-nopriority': { store: 'memory', omit: ['priority-delivery'] },
  'midge-nosys': { store: 'memory', omit: ['sys'] },
  'midge-nedb': { store: 'nedb', omit: [] },
  'midge-core': { store: 'memory', omit: ['security', 'persistent-sessions', 'priority-delivery', 'sys'] },
}

export const isBrokerName = (name: string): name is BrokerName => (BROKER_ORDER as readonly string[]).includes(name)
