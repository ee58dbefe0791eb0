import type { Readable } from 'node:stream'

/**
 * `source` with each entry it pushes replaced by `map(entry)`, for a store's
 * object streams (`outgoingStream`). aedes reads one on every connect and it
 * is nearly always empty: `Readable.map` or a Transform would add a stream,
 * an AbortSignal and an async iterator per connection (about 14 µs of CPU per
 * connection, measured), where this adds one closure.
 */
export function mapPushed<T> (source: Readable, map: (entry: T) => T): Readable {
  const push = source.push
  source.push = (entry: unknown, encoding?: BufferEncoding): boolean =>
    push.call(source, entry === null || entry === undefined ? entry : map(entry as T), encoding)
  return source
}

/**
 * `store` with `overrides` in front, for decorators of an aedes persistence
 * (the core's and plugins'). The store is any aedes-persistence, whose
 * methods may use private fields, so each runs bound to it.
 *
 * A plain object, built once: every method found on the store and its
 * prototypes, bound; every other property (getters included) read and written
 * through to the store; then the overrides. aedes looks a method up on every
 * call, through every decorator; a Proxy's `get` trap made that ~250 ns per
 * lookup with three decorators, a plain object ~5 ns. What the store does not
 * have when it is decorated stays absent, so feature detection
 * (`typeof store.isQueued === 'function'`) sees the same as on the store.
 */
export function withOverrides<T extends object> (store: T, overrides: object): T {
  const wrapper: Record<PropertyKey, unknown> = {}
  for (let o: object | null = store; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const key of Reflect.ownKeys(o)) {
      // the nearest definition wins, as in a property lookup
      if (key === 'constructor' || Object.prototype.hasOwnProperty.call(wrapper, key)) continue
      const descriptor = Object.getOwnPropertyDescriptor(o, key)
      // read through the store, not the descriptor: a store that is itself a Proxy (the redis one) hands out its own wrappers
      const value = descriptor !== undefined && 'value' in descriptor ? Reflect.get(store, key) as unknown : undefined
      if (typeof value === 'function') {
        wrapper[key] = (value as (...args: unknown[]) => unknown).bind(store)
      } else {
        Object.defineProperty(wrapper, key, {
          get: () => Reflect.get(store, key),
          set: (value: unknown) => { Reflect.set(store, key, value) },
          enumerable: descriptor?.enumerable ?? false,
          configurable: true,
        })
      }
    }
  }
  Object.assign(wrapper, overrides)
  return wrapper as T
}
