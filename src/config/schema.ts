import { z } from 'zod'
import { clusterSchema } from './sections/cluster.js'
import { limitsSchema } from './sections/limits.js'
import { DEFAULT_LISTENERS, listenerSchema } from './sections/listeners.js'
import { mqttSchema } from './sections/mqtt.js'
import { prioritySchema } from './sections/priority.js'
import { securitySchema } from './sections/security.js'
import { sessionsSchema } from './sections/sessions.js'
import { sysSchema } from './sections/sys.js'

export type { ListenerConfig, ListenerType } from './sections/listeners.js'

/**
 * The one schema for midge's config. Types derive from it; `config/default.json`
 * is its defaults (a test keeps them equal). Every object is strict: an unknown
 * key is an error that names its path.
 */
export const configSchema = z.strictObject({
  /** Broker id; unique per cluster node. Default: a random UUID at each start. */
  id: z.string().min(1).optional(),
  /** Where the embedded store keeps its files. */
  dataDir: z.string().min(1).default('./data'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable logs instead of JSON (default: on when stdout is a TTY). */
  logPretty: z.boolean().optional(),
  listeners: z.array(listenerSchema).prefault(() => structuredClone(DEFAULT_LISTENERS)),
  limits: limitsSchema,
  mqtt: mqttSchema,
  sessions: sessionsSchema,
  priority: prioritySchema,
  sys: sysSchema,
  security: securitySchema,
  cluster: clusterSchema,
  /** Longest a plugin's `register` may take, in ms. */
  pluginTimeoutMs: z.number().int().min(1).default(10_000),
  /** Longest a graceful shutdown may take before the process exits anyway, in ms. */
  shutdownTimeoutMs: z.number().int().min(100).default(5_000),
})

/** The validated config. */
export type BrokerConfig = z.output<typeof configSchema>
/** What a user may write: every key optional. */
export type BrokerConfigInput = z.input<typeof configSchema>
