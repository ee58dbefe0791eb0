import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { mapPushed, withOverrides } from '../../src/core/store-overrides.js'

class Base extends EventEmitter {
  inherited (): string { return 'base' }
}

/** Stands for a session store: private state, a getter, an async setup, an inherited method. */
class Store extends Base {
  #calls = 0
  label = 'first'

  async setup (): Promise<void> {}
  get calls (): number { return this.#calls }
  count (): number { return ++this.#calls }
  clear (): string { return 'store' }
  override inherited (): string { return 'store' }
}

describe('withOverrides', () => {
  it('puts the overrides in front and runs every other method bound to the store', () => {
    const store = new Store()
    const decorated = withOverrides(store, { clear: () => 'override' })
    expect(decorated.clear()).toBe('override')
    // private fields: a method called with `this` = the decorator would throw here
    expect(decorated.count()).toBe(1)
    expect(store.calls).toBe(1)
    expect(decorated.inherited()).toBe('store')
  })

  it('reads getters and fields live from the store and writes fields through to it', () => {
    const store = new Store()
    const decorated = withOverrides(store, {})
    store.count()
    expect(decorated.calls).toBe(1)
    store.label = 'second'
    expect(decorated.label).toBe('second')
    decorated.label = 'third'
    expect(store.label).toBe('third')
  })

  it('keeps what aedes and feature detection check: an async setup, absent methods absent', () => {
    const decorated = withOverrides(new Store(), {}) as Store & { isQueued?: unknown }
    expect(decorated.setup.constructor.name).toBe('AsyncFunction')
    expect(decorated.isQueued).toBeUndefined()
    expect('isQueued' in decorated).toBe(false)
  })

  it('stacks: each layer sees the one below, the outermost override wins', () => {
    const store = new Store()
    const inner = withOverrides(store, { clear: () => 'inner' })
    const outer = withOverrides(inner, { count: () => -1 })
    expect(outer.clear()).toBe('inner')
    expect(outer.count()).toBe(-1)
    expect(inner.count()).toBe(1)
    expect(outer.calls).toBe(1)
  })

  it('takes methods as the store hands them out: a store that is a Proxy keeps its own wrappers', () => {
    const store = new Store()
    const calls: string[] = []
    const tracked = new Proxy(store, {
      get (target, prop) {
        const value = Reflect.get(target, prop, target) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => { calls.push(String(prop)); return (value as (...a: unknown[]) => unknown).apply(target, args) }
      },
    })
    const decorated = withOverrides(tracked, {})
    expect(decorated.count()).toBe(1)
    expect(decorated.clear()).toBe('store')
    expect(calls).toEqual(['count', 'clear'])
  })

  it('forwards EventEmitter methods to the store, so listeners land on it', () => {
    const store = new Store()
    const decorated = withOverrides(store, {})
    let heard = 0
    decorated.on('x', () => { heard++ })
    store.emit('x')
    expect(heard).toBe(1)
  })
})

describe('mapPushed', () => {
  it('maps every entry a Readable.from stream pushes, in order, and still ends', async () => {
    async function * entries (): AsyncGenerator<{ n: number }> { yield { n: 1 }; yield { n: 2 }; yield { n: 3 } }
    const stream = mapPushed<{ n: number }>(Readable.from(entries()), (e) => ({ n: e.n * 10 }))
    expect(await stream.toArray()).toEqual([{ n: 10 }, { n: 20 }, { n: 30 }])
  })

  it('ends an empty stream without calling the map', async () => {
    let calls = 0
    const stream = mapPushed(Readable.from([]), (e) => { calls++; return e })
    expect(await stream.toArray()).toEqual([])
    expect(calls).toBe(0)
  })
})
