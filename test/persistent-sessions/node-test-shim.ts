import assert from 'node:assert'
import { test } from 'vitest'

/**
 * Runs a node:test style suite (aedes-persistence's `abstract.js`) under
 * vitest: `test(name, async t => …)` with `t.assert.*`, `t.plan()` and
 * `t.diagnostic()`.
 *
 * The assertions are node:assert's LEGACY (loose) ones, as node:test's
 * `t.assert` was when the suite was written: strict mode compares prototypes
 * and fails the suite's `deepEqual(plainObject, Packet)` checks even on the
 * reference memory store. `t.plan()` is recorded but not enforced, as Node 20's
 * runner does not enforce it for these tests either ('add many outgoing
 * packets' plans 64 assertions and makes 34, and passes on node:test).
 */

/** The part of node:test's TestContext the upstream suite uses. */
export interface NodeTestContext {
  readonly name: string
  plan(count: number): void
  diagnostic(message: string): void
  readonly assert: Pick<typeof assert, 'equal' | 'notEqual' | 'deepEqual' | 'ok'>
}

export type NodeTestFn = (name: string, fn: (t: NodeTestContext) => unknown) => void

export function nodeTestShim (): NodeTestFn {
  return (name, fn) => {
    test(name, async () => {
      let planned = 0
      let made = 0
      const counted = <A extends unknown[]>(check: (...args: A) => void) => (...args: A): void => {
        made++
        check(...args)
      }
      const t: NodeTestContext = {
        name,
        plan (count) { planned = count },
        diagnostic () {},
        assert: {
          equal: counted(assert.equal),
          notEqual: counted(assert.notEqual),
          deepEqual: counted(assert.deepEqual),
          ok: counted(assert.ok) as typeof assert.ok,
        },
      }
      await fn(t)
      // The one check kept from plan(): a test that planned assertions made some.
      if (planned > 0 && made === 0) throw new Error(`${name}: planned ${planned} assertions, made none`)
    })
  }
}
