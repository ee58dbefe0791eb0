/** What `beforeDeadline` resolves with when the time ran out first. */
export const LATE: unique symbol = Symbol('late')

/**
 * `promise`'s outcome, or `LATE` once `ms` have passed. Closing steps use it:
 * an embedded broker has no process exit to fall back on, so `close()` must
 * end even when a plugin or a store never answers. The timer never outlives
 * the race.
 */
export async function beforeDeadline<T> (promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<typeof LATE>((resolve) => { timer = setTimeout(resolve, ms, LATE) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
