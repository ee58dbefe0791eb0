import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { sysBindings } from './sys-metric.js'

export interface SysPublisherOptions {
  /** The registry whose `$SYS` metrics are published (`defineSysMetric`). */
  registry: Registry
  /** Milliseconds between ticks (> 0). */
  intervalMs: number
  /** Publish one retained value as the broker (QoS 0, retain). */
  publish: (topic: string, payload: string) => Promise<void>
  /** Runs at the start of every tick, with the seconds since the previous one (0 at the first). */
  beforeTick?: (elapsedSeconds: number) => void
  log: Logger
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number
}

/**
 * Publishes every `$SYS` metric of the registry as a retained QoS 0 message
 * at start and then every interval, as Mosquitto does. Like Mosquitto, only
 * values that changed since the last tick are published (the retained copy
 * serves new subscribers), and a series that disappeared (a deleted group)
 * is cleared with an empty retained message.
 */
export class SysPublisher {
  readonly #options: SysPublisherOptions
  readonly #now: () => number
  /** Last payload published per topic, per metric. */
  readonly #published = new Map<string, Map<string, string>>()
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #lastTick: number | undefined

  constructor (options: SysPublisherOptions) {
    this.#options = options
    this.#now = options.now ?? (() => performance.now())
  }

  /** Publish the first values now, then every interval. */
  async start (): Promise<void> {
    await this.tick()
    this.#timer = setInterval(() => { void this.tick() }, this.#options.intervalMs)
    // $SYS never keeps a process alive: listeners do that.
    this.#timer.unref()
  }

  /** Stop ticking; resolves once a tick in progress has finished. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running
  }

  /** One publication round. A round still running (slow store) makes this one a no-op. */
  tick (): Promise<void> {
    if (this.#running !== undefined) return this.#running
    this.#running = this.#tick().finally(() => { this.#running = undefined })
    return this.#running
  }

  async #tick (): Promise<void> {
    const { registry, publish, log, beforeTick } = this.#options
    const now = this.#now()
    beforeTick?.(this.#lastTick === undefined ? 0 : (now - this.#lastTick) / 1000)
    this.#lastTick = now
    const changes: Array<[topic: string, payload: string]> = []
    for (const binding of sysBindings(registry)) {
      let values
      try {
        ({ values } = await binding.metric.get())
      } catch (err) {
        // One failing reader must not silence the others; its retained values stay as they were.
        log.warn({ err, metric: binding.name }, '$SYS metric could not be read')
        continue
      }
      const before = this.#published.get(binding.name) ?? new Map<string, string>()
      const after = new Map<string, string>()
      for (const { value, labels } of values) {
        const payload = binding.payload(value, labels)
        for (const topic of binding.topics(labels)) {
          after.set(topic, payload)
          if (before.get(topic) !== payload) changes.push([topic, payload])
        }
      }
      for (const topic of before.keys()) if (!after.has(topic)) changes.push([topic, ''])
      this.#published.set(binding.name, after)
    }
    for (const [topic, payload] of changes) {
      try {
        await publish(topic, payload)
      } catch (err) {
        log.debug({ err, topic }, '$SYS value not published (broker closing?)')
      }
    }
  }
}
