import type { BrokerConfig } from './config/schema.js'
import persistentSessions from '../plugins/persistent-sessions/index.js'
import priorityDelivery from '../plugins/priority-delivery/index.js'
import type { Plugin } from './core/plugin-api.js'
import type { PluginEntry } from './core/plugin-host.js'
import { securityPlugin } from './security/plugin.js'
import { sysPlugin } from './sys/plugin.js'

/** The built-in plugins, by name. */
export type BuiltinPluginName = 'security' | 'persistent-sessions' | 'priority-delivery' | 'sys'

/**
 * The plugins a config turns on, in boot order: security first (its hooks
 * lead every chain), then the store, then observers. Each built-in plugin
 * reads its own config section; embedders' plugins come after these.
 * `omit` leaves some out (an embedder that brings its own, benchmarks).
 */
export function builtinPlugins (config: Readonly<BrokerConfig>, omit: readonly BuiltinPluginName[] = []): PluginEntry[] {
  const all: Array<[BuiltinPluginName, PluginEntry]> = [
    ['security', { plugin: securityPlugin, options: config.security }],
    ['persistent-sessions', { plugin: persistentSessions as Plugin<never>, options: config.sessions }],
    ['priority-delivery', { plugin: priorityDelivery as Plugin<never>, options: undefined }],
    ['sys', { plugin: sysPlugin, options: undefined }],
  ]
  return all.filter(([name]) => !omit.includes(name)).map(([, entry]) => entry)
}
