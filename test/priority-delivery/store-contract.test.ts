import { createRequire } from 'node:module'
import { pino } from 'pino'
import { describe } from 'vitest'
import { createMemoryStore, NedbPersistence } from '../../plugins/persistent-sessions/index.js'
import { decorateStore } from '../../plugins/priority-delivery/persistence-decorator.js'
import { InflightWindows } from '../../plugins/priority-delivery/window.js'
import { nodeTestShim, type NodeTestFn } from '../persistent-sessions/node-test-shim.js'

/**
 * The decorated store is still an aedes-persistence: the upstream contract
 * suite passes through it (its clients are bare `{ id }` objects, which the
 * decorator hands straight to the store). Stamping is switched off here: it
 * adds `properties.priority` to queued packets on purpose, which the suite's
 * exact comparisons do not expect; the broker tests cover it.
 */
type AbstractPersistence = (options: { test: NodeTestFn, persistence: () => object, testAsync: boolean }) => void
const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js') as AbstractPersistence

function decorated (store: object): object {
  const windows = new InflightWindows({
    maxInflight: 20,
    maxQueued: 100,
    mode: 'strict',
    priorityOf: () => 4,
    deliver: () => false,
    onOverflow: () => {},
    log: pino({ level: 'silent' }),
  })
  return decorateStore(store, { windows, clientOf: () => undefined, stamp: () => {} })
}

describe('aedes-persistence suite through the priority decorator: memory store', () => {
  abstractPersistence({ test: nodeTestShim(), persistence: () => decorated(createMemoryStore()), testAsync: true })
})

describe('aedes-persistence suite through the priority decorator: nedb store', () => {
  abstractPersistence({ test: nodeTestShim(), persistence: () => decorated(new NedbPersistence()), testAsync: true })
})
