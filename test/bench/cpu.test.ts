import { describe, expect, it } from 'vitest'
import { cpuOf } from './lib/cpu.js'

describe('cpuOf (work per message)', () => {
  it('counts CPU time spent between two samples of a process', async () => {
    const before = await cpuOf(process.pid)
    // Spin until getrusage says 50 ms of CPU were used (wall time would depend on the machine's load).
    const start = process.cpuUsage()
    while (process.cpuUsage(start).user < 50_000) { /* spin */ }
    const after = await cpuOf(process.pid)
    expect(after.cpuMs - before.cpuMs).toBeGreaterThanOrEqual(45)
    expect(after.waitMs).toBeGreaterThanOrEqual(before.waitMs)
  })

  it('is NaN for a process that does not exist', async () => {
    expect((await cpuOf(2 ** 22 + 1)).cpuMs).toBeNaN()
  })
})
