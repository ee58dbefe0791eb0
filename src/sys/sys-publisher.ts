import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { SYS_METRICS } from './catalog.js'
import { sysBindings } from './sys-metric.js'

export interface SysPublisherOptions {
  /** The registry whose `$SYS` metrics are published (`defineSysMetric`). */
  registry: Registry
  /** Milliseconds between ticks (> 0). */
  intervalMs: number
  /** Publish one value as the broker (QoS 0), retained unless `retain` is false. */
  publish: (topic: string, payload: string, retain: boolean) => Promise<void>
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
 *
 * A retained message is stored before it is routed, so while the session
 * store takes no writes (`midge_store_up` 0: Redis away, a full disk) every
 * retained publish failed or hung, and `$SYS` went silent, `store/up 0`
 * included. Such a tick publishes its values live only; the first tick with
 * the store back publishes retained what changed since the last retained
 * values and what went out live only, whatever its value now.
 */
export class SysPublisher {
  readonly #options: SysPublisherOptions
  readonly #now: () => number
  /** Last payload published per topic, per metric. */
  readonly #published = new Map<string, Map<string, string>>()
  /** Topics whose last value went out live only (the store was away): published retained again. */
  readonly #liveOnly = new Set<string>()
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
    const published = new Map<string, Map<string, string>>()
    let storeDown = false
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
      if (binding.name === SYS_METRICS.storeUp.name && values.some((v) => v.value === 0)) storeDown = true
      for (const { value, labels } of values) {
        const payload = binding.payload(value, labels)
        for (const topic of binding.topics(labels)) {
          after.set(topic, payload)
          if (before.get(topic) !== payload || this.#liveOnly.has(topic)) changes.push([topic, payload])
        }
      }
      for (const topic of before.keys()) if (!after.has(topic)) changes.push([topic, ''])
      published.set(binding.name, after)
    }
    if (storeDown) for (const [topic] of changes) this.#liveOnly.add(topic)
    else {
      for (const [name, after] of published) this.#published.set(name, after)
      this.#liveOnly.clear()
    }
    for (const [topic, payload] of changes) {
      try {
        await publish(topic, payload, !storeDown)
      } catch (err) {
        log.debug({ err, topic }, '$SYS value not published (broker closing?)')
      }
    }
  }
}
