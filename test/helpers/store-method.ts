/**
 * A store decorator for tests (`BrokerApi.decoratePersistence`): one method
 * replaced by `wrap(original)`, every other one passed through bound to the store.
 */
export function wrapStoreMethod<S extends object> (
  method: string,
  wrap: (original: (...args: unknown[]) => unknown) => (...args: never[]) => unknown,
): (store: S) => S {
  return (store) => new Proxy(store, {
    get (target, prop) {
      const value = Reflect.get(target, prop, target) as unknown
      if (typeof value !== 'function') return value
      const original = (value as (...args: unknown[]) => unknown).bind(target)
      return prop === method ? wrap(original) : original
    },
  })
}
