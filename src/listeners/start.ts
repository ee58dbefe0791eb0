import type { ListenerConfig } from '../config/schema.js'
import type { LimitsConfig } from '../config/sections/limits.js'
import type { ConnectionGate } from './connection-gate.js'
import { HttpRoutes, startHttpListener } from './http.js'
import { SocketPolicy } from './socket-policy.js'
import { startTcpListener } from './tcp.js'
import type { ConnectionHandler, RunningListener } from './types.js'
import { startWebSocketListener } from './websocket.js'

/**
 * Start every configured listener; if one fails, close those already bound and
 * rethrow. `limits` are the socket-level ones (packet size, rates, TLS
 * handshake time), shared by all MQTT listeners.
 */
export async function startListeners (configs: readonly ListenerConfig[], gate: ConnectionGate, routes: HttpRoutes, onConnection: ConnectionHandler, limits: Partial<LimitsConfig> = {}): Promise<RunningListener[]> {
  const policy = new SocketPolicy(limits)
  const running: RunningListener[] = []
  const counts = new Map<string, number>()
  try {
    for (const config of configs) {
      const n = (counts.get(config.type) ?? 0) + 1
      counts.set(config.type, n)
      const name = config.name ?? (n === 1 ? config.type : `${config.type}${n}`)
      switch (config.type) {
        case 'mqtt':
        case 'mqtts':
          running.push(await startTcpListener(config, name, gate, onConnection, policy))
          break
        case 'ws':
        case 'wss':
          running.push(await startWebSocketListener(config, name, gate, onConnection, policy))
          break
        case 'http':
          running.push(await startHttpListener(config, name, routes))
          break
      }
    }
  } catch (err) {
    await Promise.all(running.map((l) => l.close()))
    throw err
  }
  return running
}
