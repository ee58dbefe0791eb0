import type { SysConfig } from '../config/sections/sys.js'
import { definePlugin } from '../core/plugin-api.js'
import { defineBrokerMetrics, defineDefaultMetrics, loadTotals, type BrokerFigures } from './broker-metrics.js'
import { BrokerCounters } from './counters.js'
import { LoadAverages } from './load-average.js'
import { metricsRoute, registerProcessMetrics } from './prometheus.js'
import { SysPublisher } from './sys-publisher.js'

/**
 * `$SYS/broker/...` topics (Mosquitto names, retained, every `sys.interval`
 * seconds; 0 = off) and Prometheus `GET /metrics`, both read from the one
 * registry `broker.metrics`. Counting listens to broker events only: it never
 * sits in a hook a publish waits for. Other plugins add their figures with
 * `defineSysMetric` (see `catalog.ts` for the agreed names).
 *
 * Options: the `sys` config section (default: `broker.config.sys`).
 */
export const sysPlugin = definePlugin<SysConfig | undefined>({
  name: 'sys',
  register (broker, options) {
    const config = options ?? broker.config.sys
    const registry = broker.metrics
    const counters = new BrokerCounters()
    counters.attach(broker.events)
    const figures: BrokerFigures = {
      counters,
      stats: () => broker.stats(),
      // Load averages are sampled at $SYS ticks (as Mosquitto): none without ticks.
      loads: config.interval > 0 ? new LoadAverages() : undefined,
    }
    defineBrokerMetrics(registry, figures)
    registerProcessMetrics(registry)
    broker.addHttpRoute('/metrics', metricsRoute(registry))

    let publisher: SysPublisher | undefined
    broker.onStart(async () => {
      defineDefaultMetrics(registry, counters)
      if (config.interval === 0) return
      publisher = new SysPublisher({
        registry,
        intervalMs: config.interval * 1000,
        publish: (topic, payload, retain) => broker.publish({ topic, payload, qos: 0, retain }),
        beforeTick: (elapsed) => figures.loads?.sample(loadTotals(figures), elapsed),
        log: broker.log,
      })
      // The first values go out before listeners open: a $SYS subscriber finds them retained at once.
      await publisher.start()
    })
    broker.onClose(async () => {
      await publisher?.stop()
      counters.detach()
    })
  },
})
