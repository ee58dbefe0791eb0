/** Every scenario, in run order. */
import { backlog } from './backlog.js'
import { connections } from './connections.js'
import { fanIn } from './fan-in.js'
import { fanOut } from './fan-out.js'
import { latency } from './latency.js'
import { rtt } from './rtt.js'
import type { Scenario } from './types.js'

export const SCENARIOS: readonly Scenario[] = [
  fanIn(0),
  fanIn(1),
  fanIn(2),
  fanOut(0),
  fanOut(1),
  latency,
  rtt,
  connections,
  backlog,
]
