import type { Socket } from 'node:net'

/**
 * What a line about a connection that never reached MQTT carries. `refused`: by a limit; `reason`: a
 * kind (a throttle key); `request`: what the client sent, when that helps (a stray HTTP request).
 */
export type RefusalLog = (refusal: { listener: string, remoteAddress: string | undefined, reason: string, refused: boolean, request?: string }) => void

/** Where a connection failed before MQTT began: its TLS handshake, its WebSocket upgrade, or before CONNECT completed. */
export type FailureStage = 'tls' | 'websocket' | 'mqtt'

/**
 * Counts live connections per listener and in total, refuses those over the
 * caps, and sums socket byte counts for `$SYS` / metrics without touching the
 * data path (Node keeps `bytesRead` / `bytesWritten` for us).
 */
export class ConnectionGate {
  readonly #maxTotal: number
  readonly #live = new Set<Socket>()
  readonly #perListener = new Map<string, number>()
  /** One 'close' handler per listener, shared by its sockets (a closure per socket costs every idle connection). */
  readonly #onClose = new Map<string, (this: Socket) => void>()
  #closedBytesIn = 0
  #closedBytesOut = 0
  #refused = 0
  /** listener + stage → failures (a handful of series: listeners are config). */
  readonly #failures = new Map<string, { listener: string, stage: FailureStage, count: number }>()
  readonly #onRefused: RefusalLog | undefined

  /** `onRefused`: told about each refusal and failure (the broker logs them). */
  constructor (maxTotal: number, onRefused?: RefusalLog) {
    this.#maxTotal = maxTotal
    this.#onRefused = onRefused
  }

  /** Admit a socket or destroy it. Returns whether it was admitted. */
  admit (socket: Socket, listener: string, maxForListener: number): boolean {
    const current = this.#perListener.get(listener) ?? 0
    if (this.#maxTotal > 0 && this.#live.size >= this.#maxTotal) return this.refuse(socket, listener, 'limits.maxConnections reached')
    if (maxForListener > 0 && current >= maxForListener) return this.refuse(socket, listener, 'the listener\'s maxConnections reached')
    this.#live.add(socket)
    this.#perListener.set(listener, current + 1)
    // 'close' comes once per socket: `on` saves `once`'s wrapper.
    socket.on('close', this.#closer(listener))
    return true
  }

  /** Close a socket refused by a limit (these, or the per-IP connection rate): counted, and reported. Returns false. */
  refuse (socket: Socket, listener: string, reason: string): false {
    this.#refused++
    this.#onRefused?.({ listener, remoteAddress: socket.remoteAddress, reason, refused: true })
    socket.destroy()
    return false
  }

  /** Report a connection that failed before MQTT (a TLS handshake, a WebSocket upgrade); the caller closes it. */
  failed (socket: Socket, listener: string, stage: FailureStage, reason: string, request?: string): void {
    this.countFailure(listener, stage)
    this.#onRefused?.({ listener, remoteAddress: socket.remoteAddress, reason, refused: false, request })
  }

  /** Count a connection that failed before MQTT began (reported by its caller). */
  countFailure (listener: string, stage: FailureStage): void {
    const key = `${listener}\u0000${stage}`
    const seen = this.#failures.get(key)
    if (seen === undefined) this.#failures.set(key, { listener, stage, count: 1 })
    else seen.count++
  }

  /** A TLS server's `tlsClientError` handler: the failed handshake is reported and closes only its socket. */
  tlsClientError (listener: string): (err: Error, socket: Socket) => void {
    return (err, socket) => {
      this.failed(socket, listener, 'tls', `TLS handshake failed: ${err.message}`)
      socket.destroy()
    }
  }

  #closer (listener: string): (this: Socket) => void {
    let onClose = this.#onClose.get(listener)
    if (onClose === undefined) {
      const gate = this
      onClose = function (this: Socket) { gate.#closed(this, listener) }
      this.#onClose.set(listener, onClose)
    }
    return onClose
  }

  #closed (socket: Socket, listener: string): void {
    if (!this.#live.delete(socket)) return
    this.#perListener.set(listener, (this.#perListener.get(listener) ?? 1) - 1)
    this.#closedBytesIn += socket.bytesRead
    this.#closedBytesOut += socket.bytesWritten
  }

  /** Transport totals since start. */
  stats (): TransportStats {
    let bytesIn = this.#closedBytesIn
    let bytesOut = this.#closedBytesOut
    for (const socket of this.#live) {
      bytesIn += socket.bytesRead
      bytesOut += socket.bytesWritten
    }
    const failures = [...this.#failures.values()].map((f) => ({ ...f }))
    return { connections: this.#live.size, bytesIn, bytesOut, refused: this.#refused, failures }
  }

  /** Destroy every live socket (used when a graceful close runs out of time). */
  destroyAll (): void {
    for (const socket of this.#live) socket.destroy()
  }
}

export interface TransportStats {
  /** Open sockets on MQTT listeners. */
  connections: number
  bytesIn: number
  bytesOut: number
  /** Connections refused by connection caps. */
  refused: number
  /** Connections that failed before MQTT began, per listener and stage. */
  failures: Array<{ listener: string, stage: FailureStage, count: number }>
}
