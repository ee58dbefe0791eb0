import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ConnectionMeta } from '../core/client-info.js'
import type { ListenerType } from '../config/schema.js'

/** Where a listener ended up bound (port 0 resolved). */
export interface BoundAddress {
  name: string
  type: ListenerType
  host: string
  port: number
  /** WebSocket path. */
  path?: string
  /** e.g. `mqtt://127.0.0.1:1883`, `ws://127.0.0.1:8083/mqtt`. */
  url: string
}

export interface RunningListener {
  readonly address: BoundAddress
  /** Stop accepting; resolves when the server is closed (after its connections end). */
  close(): Promise<void>
}

/** Hands an accepted MQTT byte stream to the broker. */
export type ConnectionHandler = (stream: Duplex, meta: ConnectionMeta, request?: IncomingMessage) => void
