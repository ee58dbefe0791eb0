import type { Logger } from 'pino'

/**
 * Runs `job` every `ms`: never two runs at once (a slow compaction is not
 * stacked), never keeping the process alive, failures logged not thrown.
 * Returns the timer for `clearInterval`.
 */
export function every (ms: number, job: () => Promise<unknown>, log: Logger, what: string): NodeJS.Timeout {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    job().catch((err: unknown) => log.error({ err, job: what }, 'session store maintenance failed'))
      .finally(() => { running = false })
  }, ms)
  timer.unref()
  return timer
}
