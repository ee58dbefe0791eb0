/** Time helpers with no dependencies, so every bench module can use them. */
import { performance } from 'node:perf_hooks'

/** Milliseconds since an arbitrary origin, shared by every client in this process. */
export const now = (): number => performance.now()

/** `promise`, or a rejection with `message` after `ms` (the timer is cleared either way). */
export async function withTimeout<T> (promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(message())) }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms) })
