import type { Registry } from 'prom-client'
import type { BrokerStats } from '../core/plugin-api.js'
import { version } from '../version.js'
import { SYS_METRICS } from './catalog.js'
import type { BrokerCounters } from './counters.js'
import { type LoadAverages, type LoadMeasure } from './load-average.js'
import { defineSysMetric, hasMetric } from './sys-metric.js'

/** Where the broker's own figures come from. */
export interface BrokerFigures {
  counters: BrokerCounters
  /** The core's live figures: socket bytes, uptime. */
  stats: () => BrokerStats
  /** Present only when `$SYS` publishing is on: the averages are sampled at its ticks. */
  loads: LoadAverages | undefined
}

/**
 * The Mosquitto `$SYS/broker/...` figures only the core and the sys plugin
 * can know, plus dead letters per reason. Defined once per broker, in the
 * order they are published.
 */
export function defineBrokerMetrics (registry: Registry, figures: BrokerFigures): void {
  const { counters, stats, loads } = figures
  const integer = (n: number): string => String(Math.trunc(n))

  defineSysMetric(registry, {
    type: 'gauge', name: 'midge_build_info', help: 'midge version, as a label (value 1).', labelNames: ['version'],
    sysTopic: () => 'version', read: () => [[{ version }, 1]], format: (_, labels) => `midge version ${labels.version}`,
  })
  defineSysMetric(registry, {
    type: 'gauge', name: 'midge_uptime_seconds', help: 'Seconds since the broker started.',
    sysTopic: 'uptime', read: () => Math.floor(stats().uptimeMs / 1000), format: (v) => `${integer(v)} seconds`,
  })
  defineSysMetric(registry, {
    type: 'gauge', name: 'midge_clients_connected', help: 'Clients connected now.', sysTopic: 'clients/connected', read: () => counters.connected,
  })
  defineSysMetric(registry, {
    type: 'gauge', name: 'midge_clients_maximum', help: 'Most clients connected at once since start.', sysTopic: 'clients/maximum', read: () => counters.maxConnected,
  })
  // Mosquitto's "total": connected clients plus disconnected persistent sessions, whoever counts those.
  defineSysMetric(registry, {
    type: 'gauge', name: 'midge_clients_registered', help: 'Connected clients plus disconnected persistent sessions.',
    sysTopic: 'clients/total', read: async () => counters.connected + await currentValue(registry, SYS_METRICS.clientsDisconnected.name),
  })
  defineSysMetric(registry, SYS_METRICS.clientsExpired)
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_publish_messages_received_total', help: 'PUBLISH packets received from clients (broker-originated messages excluded).',
    sysTopic: () => ['publish/messages/received', 'messages/received'], read: () => counters.publishReceived,
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_publish_messages_sent_total', help: 'PUBLISH packets sent to clients, re-sends included.',
    sysTopic: () => ['publish/messages/sent', 'messages/sent'], read: () => counters.publishSent,
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_publish_messages_dropped_total', help: 'Messages dropped instead of delivered (all reasons).',
    sysTopic: 'publish/messages/dropped', read: () => counters.dropped,
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_bytes_received_total', help: 'Bytes read from MQTT sockets (TCP, TLS, WebSocket).', sysTopic: 'bytes/received', read: () => stats().bytesIn,
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_bytes_sent_total', help: 'Bytes written to MQTT sockets (TCP, TLS, WebSocket).', sysTopic: 'bytes/sent', read: () => stats().bytesOut,
  })
  if (loads !== undefined) {
    defineSysMetric(registry, {
      type: 'gauge', name: 'midge_load_per_minute', help: 'Exponentially weighted average per minute over 1, 5 and 15 minutes, sampled at each $SYS tick.',
      labelNames: ['measure', 'window'], sysTopic: loadTopics, read: () => loads.samples(), format: (v) => v.toFixed(2),
    })
  }
  defineSysMetric(registry, {
    ...SYS_METRICS.deadLetters,
    read: () => Object.entries(counters.droppedBy).map(([reason, n]) => [{ reason }, n] as const),
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_connections_refused_total', help: 'Connections refused by limits: maxConnections (broker or listener), connectionRatePerIp.', sysTopic: 'midge/connections/refused', read: () => stats().refused,
  })
  defineSysMetric(registry, {
    type: 'counter', name: 'midge_connections_failed_total',
    help: 'Connections closed before MQTT began, per listener and stage: tls (handshake failed), websocket (upgrade refused, or a plain HTTP request), mqtt (a protocol error, or no CONNECT in time).',
    labelNames: ['listener', 'stage'], sysTopic: 'midge/connections/failed/<listener>/<stage>',
    read: () => stats().failures.map(({ listener, stage, count }) => [{ listener, stage }, count] as const),
  })
}

/**
 * The figures a plugin may own better (a store knows them across restarts),
 * from events otherwise. Called when the broker starts, after every plugin's
 * `register()`: a figure some plugin defined is left to it.
 */
export function defineDefaultMetrics (registry: Registry, counters: BrokerCounters): void {
  const defaults = [
    { ...SYS_METRICS.clientsDisconnected, read: () => counters.offline.size },
    { ...SYS_METRICS.subscriptions, read: () => counters.subscriptions },
    { ...SYS_METRICS.retainedMessages, read: () => counters.retainedCount },
    { ...SYS_METRICS.storeMessages, read: () => counters.retainedCount },
    { ...SYS_METRICS.storeMessageBytes, read: () => counters.retainedBytes },
  ] as const
  for (const spec of defaults) if (!hasMetric(registry, spec.name)) defineSysMetric(registry, spec)
}

/** Running totals the load averages are computed from. */
export function loadTotals (figures: BrokerFigures): Record<LoadMeasure, number> {
  const { counters } = figures
  const { bytesIn, bytesOut } = figures.stats()
  return {
    publish_received: counters.publishReceived,
    publish_sent: counters.publishSent,
    publish_dropped: counters.dropped,
    bytes_received: bytesIn,
    bytes_sent: bytesOut,
    connections: counters.connects,
  }
}

/** `publish_received` → `load/publish/received/1min` and Mosquitto's `load/messages/received/1min`. */
function loadTopics (labels: Readonly<Record<'measure' | 'window', string>>): string[] {
  const [kind, direction] = labels.measure.split('_') as [string, string | undefined]
  const path = direction === undefined ? kind : `${kind}/${direction}`
  const topics = [`load/${path}/${labels.window}`]
  if (kind === 'publish' && direction !== 'dropped') topics.push(`load/messages/${direction}/${labels.window}`)
  return topics
}

/** Sum of a metric's series, 0 if it is not defined. */
async function currentValue (registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const { values } = await metric.get()
  return values.reduce((sum, v) => sum + v.value, 0)
}
