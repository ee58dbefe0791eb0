/**
 * A broker's CPU time, summed over its threads from /proc/<pid>/task/<tid>/schedstat
 * (Linux, nanoseconds): time on a CPU, and time spent runnable but waiting for
 * one. On a shared 2-core machine wall-clock throughput swings with whatever
 * else runs; work per message (messages per CPU-second) hardly does, so the
 * on/off comparisons quote both. The wait time says how contended a run was.
 */
import { readdir, readFile } from 'node:fs/promises'

export interface CpuSample {
  /** Milliseconds on a CPU since the process started (all threads). */
  cpuMs: number
  /** Milliseconds runnable but waiting for a CPU. */
  waitMs: number
}

export const NO_CPU_SAMPLE: CpuSample = { cpuMs: Number.NaN, waitMs: Number.NaN }

export async function cpuOf (pid: number): Promise<CpuSample> {
  let tasks: string[]
  try {
    tasks = await readdir(`/proc/${pid}/task`)
  } catch {
    return NO_CPU_SAMPLE
  }
  let cpuNs = 0
  let waitNs = 0
  for (const tid of tasks) {
    // A thread may have ended since the listing: it is simply not counted.
    const text = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '')
    const [onCpu, waiting] = text.trim().split(/\s+/).map(Number)
    if (onCpu !== undefined && Number.isFinite(onCpu)) cpuNs += onCpu
    if (waiting !== undefined && Number.isFinite(waiting)) waitNs += waiting
  }
  return tasks.length === 0 ? NO_CPU_SAMPLE : { cpuMs: cpuNs / 1e6, waitMs: waitNs / 1e6 }
}
