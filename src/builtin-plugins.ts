import type { BrokerConfig } from './config/schema.js'
import type { PluginEntry } from './core/plugin-host.js'

/**
 * The plugins a config turns on, in boot order. Each built-in plugin reads its
 * own config section; embedders append their own after these.
 */
export function builtinPlugins (_config: Readonly<BrokerConfig>): PluginEntry[] {
  return []
}
