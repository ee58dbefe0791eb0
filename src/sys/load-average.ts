/** The figures with load averages: `$SYS/broker/load/...` as in Mosquitto. */
export const LOAD_MEASURES = ['publish_received', 'publish_sent', 'publish_dropped', 'bytes_received', 'bytes_sent', 'connections'] as const
export type LoadMeasure = typeof LOAD_MEASURES[number]

/** Averaging windows, named as Mosquitto's topics, with their length in seconds. */
export const LOAD_WINDOWS = [['1min', 60], ['5min', 300], ['15min', 900]] as const
export type LoadWindow = typeof LOAD_WINDOWS[number][0]

/**
 * Load averages as Mosquitto computes them (`sys_tree.c`): at each `$SYS`
 * tick, the rate per minute since the last tick feeds an exponentially
 * weighted moving average per window, with weight `exp(-elapsed / window)`
 * on the previous value, like the 1/5/15-minute load averages of Unix.
 * Values start at 0, so they rise over about one window after start.
 */
export class LoadAverages {
  readonly #last = new Float64Array(LOAD_MEASURES.length)
  readonly #values = new Float64Array(LOAD_MEASURES.length * LOAD_WINDOWS.length)
  #primed = false

  /**
   * Feed the running totals, `elapsedSeconds` after the previous sample. The
   * first sample only sets the baseline.
   */
  sample (totals: Readonly<Record<LoadMeasure, number>>, elapsedSeconds: number): void {
    if (this.#primed && elapsedSeconds > 0) {
      for (let i = 0; i < LOAD_MEASURES.length; i++) {
        // A total that went down (a store that reset it) counts as no traffic, not negative load.
        const delta = Math.max(0, totals[LOAD_MEASURES[i] as LoadMeasure] - (this.#last[i] as number))
        const perMinute = delta * 60 / elapsedSeconds
        for (let w = 0; w < LOAD_WINDOWS.length; w++) {
          const weight = Math.exp(-elapsedSeconds / (LOAD_WINDOWS[w] as typeof LOAD_WINDOWS[number])[1])
          const k = i * LOAD_WINDOWS.length + w
          this.#values[k] = weight * (this.#values[k] as number) + (1 - weight) * perMinute
        }
      }
    }
    for (let i = 0; i < LOAD_MEASURES.length; i++) this.#last[i] = totals[LOAD_MEASURES[i] as LoadMeasure]
    this.#primed = true
  }

  /** Current average, per minute. */
  value (measure: LoadMeasure, window: LoadWindow): number {
    const i = LOAD_MEASURES.indexOf(measure)
    const w = LOAD_WINDOWS.findIndex(([name]) => name === window)
    return this.#values[i * LOAD_WINDOWS.length + w] as number
  }

  /** Every average as a labelled sample (for the registry). */
  * samples (): Generator<readonly [{ measure: LoadMeasure, window: LoadWindow }, number]> {
    for (const measure of LOAD_MEASURES) {
      for (const [window] of LOAD_WINDOWS) yield [{ measure, window }, this.value(measure, window)]
    }
  }
}
