/**
 * Load-shaping helpers shared by the scenarios: a bounded publish window, a
 * bounded-concurrency connector, and a counter that can be awaited with a
 * deadline. Every loop here ends by count or by time, whichever comes first.
 */
import { RawClient, type ConnectOptions } from './raw-client.js'
import type { PublishTemplate } from './packets.js'
import { now, sleep, withTimeout } from './time.js'

export { now, sleep, withTimeout } from './time.js'

/**
 * Runs `task(0..count-1)` with at most `concurrency` in flight, stopping early
 * (without error) once `deadline` (a {@link now} value) has passed.
 * Resolves with the number of tasks that completed.
 */
export async function runBounded (count: number, concurrency: number, deadline: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  let done = 0
  const worker = async (): Promise<void> => {
    while (next < count && now() < deadline) {
      const i = next++
      await task(i)
      done++
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker))
  return done
}

/**
 * Publishes `count` messages from `client` with at most `window` unacknowledged
 * (QoS 0: the socket's own backpressure). The payload carries the send time.
 */
export function publishMany (client: RawClient, template: PublishTemplate, count: number, window: number, deadline: number): Promise<number> {
  return runBounded(count, template.qos === 0 ? 1 : window, deadline, () => client.publish(template, now()))
}

/** Connects `count` clients named `${prefix}-${i}` with at most `concurrency` handshakes in flight. */
export async function connectMany (count: number, concurrency: number, deadline: number, opts: Omit<ConnectOptions, 'clientId'>, prefix: string): Promise<RawClient[]> {
  const clients: RawClient[] = []
  try {
    await runBounded(count, concurrency, deadline, async (i) => {
      clients.push(await RawClient.connect({ ...opts, clientId: `${prefix}-${i}` }))
    })
  } catch (err) {
    await closeAll(clients)
    throw err
  }
  if (clients.length < count) {
    await closeAll(clients)
    throw new Error(`connected only ${clients.length} of ${count} ${prefix} clients before the deadline`)
  }
  return clients
}

/** Disconnects clients in parallel batches (bounded: each disconnect has its own timeout). */
export async function closeAll (clients: readonly RawClient[]): Promise<void> {
  const batch = 500
  for (let i = 0; i < clients.length; i += batch) {
    await Promise.all(clients.slice(i, i + batch).map((c) => c.disconnect(1_000)))
  }
}

/** A counter whose target can be awaited, failing after a timeout with the count reached. */
export class Countdown {
  count = 0
  private readonly target: number
  private resolve: (() => void) | null = null
  readonly done: Promise<void>
  /** {@link now} at which the target was reached (NaN until then). */
  reachedAt = Number.NaN

  constructor (target: number) {
    this.target = target
    this.done = new Promise((resolve) => { this.resolve = resolve })
    if (target <= 0) this.hit()
  }

  /** {@link now} of the last {@link add}. */
  lastAt = Number.NaN

  add (n = 1): void {
    this.count += n
    this.lastAt = now()
    if (this.count >= this.target && this.resolve !== null) this.hit()
  }

  /** Resolves when the target is reached; rejects after `timeoutMs` naming what arrived. */
  wait (timeoutMs: number, what: string): Promise<void> {
    const ms = Math.round(timeoutMs)
    return withTimeout(this.done, ms, () => `timed out after ${ms} ms: ${this.count}/${this.target} ${what}`)
  }

  /**
   * Resolves when the target is reached, or once nothing has arrived for
   * `idleMs` (QoS 0 may lose messages), or after `timeoutMs` at the latest.
   */
  async settle (idleMs: number, timeoutMs: number): Promise<void> {
    const start = now()
    while (this.resolve !== null && now() - start < timeoutMs) {
      const last = Number.isNaN(this.lastAt) ? start : this.lastAt
      if (now() - last > idleMs) return
      await Promise.race([this.done, sleep(Math.min(50, idleMs))])
    }
  }

  private hit (): void {
    this.reachedAt = now()
    this.resolve?.()
    this.resolve = null
  }
}
