/**
 * `store` with `overrides` in front, for decorators of an aedes persistence
 * (the core's and plugins'). A Proxy rather than a subclass or a copied
 * method list: the store is any aedes-persistence (its methods may use private
 * fields, so they run bound to it), and methods added later keep working.
 */
export function withOverrides<T extends object> (store: T, overrides: object): T {
  const own = overrides as Record<PropertyKey, unknown>
  const bound = new WeakMap<object, unknown>()
  return new Proxy(store, {
    get (target, prop) {
      if (Object.prototype.hasOwnProperty.call(own, prop)) return own[prop]
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      let fn = bound.get(value)
      if (fn === undefined) {
        fn = (value as (...args: unknown[]) => unknown).bind(target)
        bound.set(value, fn)
      }
      return fn
    },
  })
}
