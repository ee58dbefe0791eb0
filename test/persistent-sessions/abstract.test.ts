import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe } from 'vitest'
import { createMemoryStore, NedbPersistence } from '../../plugins/persistent-sessions/index.js'
import { nodeTestShim, type NodeTestFn } from './node-test-shim.js'

/**
 * aedes-persistence's own contract suite (abstract.js, ~50 tests), unchanged,
 * run on the reference memory store (which proves the shim) and on ours, in
 * memory and on disk.
 */

type AbstractPersistence = (options: { test: NodeTestFn, persistence: () => object, testAsync: boolean }) => void
const require = createRequire(import.meta.url)
const abstractPersistence = require('aedes-persistence/abstract.js') as AbstractPersistence

describe('aedes-persistence suite: reference memory store', () => {
  abstractPersistence({ test: nodeTestShim(), persistence: createMemoryStore, testAsync: true })
})

describe('aedes-persistence suite: nedb store, inMemoryOnly', () => {
  abstractPersistence({ test: nodeTestShim(), persistence: () => new NedbPersistence(), testAsync: true })
})

describe('aedes-persistence suite: nedb store, file-backed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'midge-abstract-'))
  let n = 0
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  // a fresh datafile per test: the suite expects an empty store each time
  abstractPersistence({ test: nodeTestShim(), persistence: () => new NedbPersistence({ filename: join(dir, `store-${++n}.db`) }), testAsync: true })
})
