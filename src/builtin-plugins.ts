import type { BrokerConfig } from './config/schema.js'
import persistentSessions from '../plugins/persistent-sessions/index.js'
import priorityDelivery from '../plugins/priority-delivery/index.js'
import type { Plugin } from './core/plugin-api.js'
import type { PluginEntry } from './core/plugin-host.js'
import { securityPlugin } from './security/plugin.js'
import { sysPlugin } from './sys/plugin.js'

/**
 * The plugins a config turns on, in boot order: security first (its hooks
 * lead every chain), then the store, then observers. Each built-in plugin
 * reads its own config section; embedders' plugins come after these.
 */
export function builtinPlugins (config: Readonly<BrokerConfig>): PluginEntry[] {
  return [
    { plugin: securityPlugin, options: config.security },
    { plugin: persistentSessions as Plugin<never>, options: config.sessions },
    { plugin: priorityDelivery as Plugin<never>, options: undefined },
    { plugin: sysPlugin, options: undefined },
  ]
}
