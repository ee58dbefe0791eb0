/**
 * midge's public API for embedding: create a broker, write plugins.
 * Everything exported here is covered by semver; nothing else is.
 */
export { createBroker } from './broker.js'
export type { Broker, BrokerOptions, PluginSpec } from './broker.js'
export type { BuiltinPluginName } from './builtin-plugins.js'
export { loadConfig, validateConfig } from './config/load.js'
export type { ConfigOverrides } from './config/load.js'
export { configSchema } from './config/schema.js'
export type { BrokerConfig, BrokerConfigInput, ListenerConfig } from './config/schema.js'
export { definePlugin } from './core/plugin-api.js'
export type { BrokerApi, BrokerStats, Plugin, PersistenceFactory, EmitterFactory } from './core/plugin-api.js'
export type { HookMap, HookName, Hooks, Verdict, AuthVerdict, ConnectInfo, InboundPublish, OutboundPublish, SubscriptionRequest } from './core/hooks.js'
export type { BrokerEventMap, DropEvent, DropReason } from './core/events.js'
export type { ClientInfo, Message, MessageMeta, QoS } from './core/message.js'
export type { BoundAddress } from './listeners/types.js'
export type { HttpResponse, HttpRoute } from './listeners/http.js'
export { BrokerError, ConfigError, PluginError, AuthError, ListenError } from './errors.js'
export { topicMatches } from './core/topic.js'
