import { z } from 'zod'
import type { BrokerConfig } from '../../src/config/schema.js'
import { prioritySchema, type PriorityConfig, type PriorityConfigInput } from '../../src/config/sections/priority.js'
import { ConfigError } from '../../src/errors.js'

/** Mosquitto's `max_inflight_messages` default. */
export const DEFAULT_MAX_INFLIGHT = 20

/** Everything the plugin runs on, resolved. */
export interface PriorityDeliveryOptions extends PriorityConfig {
  /** Unacknowledged QoS 1/2 deliveries per client (`mqtt.maxInflight`). */
  maxInflight: number
  /** Most messages waiting in memory per clean-session client (`sessions.maxQueued`). */
  maxQueued: number
}

/** What an embedder may pass as the plugin's options; anything left out comes from the broker config. */
export type PriorityDeliveryInput = PriorityConfigInput & { maxInflight?: number, maxQueued?: number }

const limits = z.strictObject({
  maxInflight: z.number().int().min(1).max(65535),
  maxQueued: z.number().int().min(1),
})

/**
 * The plugin's options: given ones first, else the broker config's `priority`
 * section, `mqtt.maxInflight` and `sessions.maxQueued`. An embedder's options
 * are validated like the config, and errors name the config key they stand for.
 */
export function resolveOptions (input: PriorityDeliveryInput | undefined, config: Readonly<BrokerConfig>): PriorityDeliveryOptions {
  const { maxInflight, maxQueued, ...section } = input ?? {}
  const priority = prioritySchema.safeParse(input === undefined ? config.priority : section)
  if (!priority.success) throw configError((key) => `priority.${key}`, priority.error)
  const bounds = limits.safeParse({
    maxInflight: maxInflight ?? config.mqtt.maxInflight ?? DEFAULT_MAX_INFLIGHT,
    maxQueued: maxQueued ?? config.sessions.maxQueued,
  })
  if (!bounds.success) throw configError((key) => (key === 'maxInflight' ? 'mqtt.' : 'sessions.') + key, bounds.error)
  return { ...priority.data, ...bounds.data }
}

/** A ConfigError naming each bad key by its config path. */
function configError (pathOf: (key: string) => string, error: z.ZodError): ConfigError {
  return new ConfigError(error.issues.map((issue) => {
    const [first, ...rest] = issue.path.map(String)
    return { path: [pathOf(first ?? ''), ...rest].join('.'), message: issue.message }
  }))
}
