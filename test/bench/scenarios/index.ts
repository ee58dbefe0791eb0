/** Every scenario, in run order, with the brokers and midge variants each one runs on. */
import type { BrokerName } from '../lib/broker-names.js'
import { backlog } from './backlog.js'
import { connections } from './connections.js'
import { durableFanIn } from './durable-fan-in.js'
import { fanIn } from './fan-in.js'
import { fanOut } from './fan-out.js'
import { latency } from './latency.js'
import { rtt } from './rtt.js'
import { stalledConsumer } from './stalled-consumer.js'
import type { Scenario } from './types.js'

/**
 * The core alone (every built-in plugin off) wherever the core issue sets a
 * throughput goal; monitoring on/off where the message rate is highest;
 * priority (the inflight window) on/off where it windows.
 */
const WITH_CORE: readonly BrokerName[] = ['aedes', 'midge', 'mosquitto', 'midge-core']
const WITH_NOSYS: readonly BrokerName[] = [...WITH_CORE, 'midge-nosys']
const WITH_BOTH: readonly BrokerName[] = [...WITH_CORE, 'midge-nopriority', 'midge-nosys']

export const SCENARIOS: readonly Scenario[] = [
  fanIn(0, WITH_NOSYS),
  fanIn(1, WITH_BOTH),
  fanIn(2, WITH_CORE),
  fanOut(0, WITH_CORE),
  fanOut(1, WITH_BOTH),
  latency,
  rtt,
  connections,
  backlog,
  durableFanIn,
  stalledConsumer('no-read'),
  stalledConsumer('no-ack'),
]
