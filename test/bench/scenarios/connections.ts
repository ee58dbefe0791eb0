/**
 * Many idle connections: the connect rate (TCP + CONNECT + CONNACK, with a
 * bounded number of handshakes in flight) and what each connection costs the
 * broker in RSS: (RSS with all connected − RSS before) / N, both after a full GC
 * for Node brokers. The count is lowered, and the report says so, when the
 * open-files limit (shared by this process and the broker) is too small.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_BROKERS } from '../lib/broker-names.js'
import { closeAll, connectMany, now } from '../lib/load.js'
import type { RawClient } from '../lib/raw-client.js'
import { perSecond } from '../lib/stats.js'
import { cpuMetrics, metric, type Scenario } from './types.js'

const CONCURRENCY = 100
/** File descriptors kept free for everything else (broker listeners, stdio, other scenarios' leftovers). */
const FD_RESERVE = 300

const wanted = (quick: boolean): number => (quick ? 1_000 : 10_000)

/** Soft RLIMIT_NOFILE of this process (inherited by the broker children). */
export function openFilesLimit (): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const soft = /^Max open files\s+(\d+|unlimited)/m.exec(limits)?.[1]
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft)
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

const connectionCount = (quick: boolean): number => Math.max(100, Math.min(wanted(quick), openFilesLimit() - FD_RESERVE))

export const connections: Scenario = {
  name: 'connections',
  brokers: [...DEFAULT_BROKERS, 'midge-core'],
  describe: (quick) => {
    const n = connectionCount(quick)
    const capped = n < wanted(quick) ? ` (capped from ${wanted(quick)} by ulimit -n ${openFilesLimit()})` : ''
    return `${n} clean-session connections${capped}, ${CONCURRENCY} handshakes in flight; RSS per connection`
  },
  timeoutMs: (quick) => (quick ? 20_000 : 60_000),
  async run (ctx) {
    const n = connectionCount(ctx.quick)
    const before = await ctx.rss()
    const cpuBefore = await ctx.cpu()
    const start = now()
    const clients: RawClient[] = await connectMany(n, CONCURRENCY, start + (ctx.quick ? 15_000 : 45_000), { port: ctx.port }, 'conn')
    const elapsed = now() - start
    const cpuAfter = await ctx.cpu()
    try {
      const after = await ctx.rss()
      return [
        metric('connPerSec', 'conn/s', perSecond(n, elapsed), 'higher'),
        metric('kibPerConn', 'KiB/conn (RSS)', (after - before) / n / 1024, 'lower'),
        ...cpuMetrics(cpuBefore, cpuAfter, clients.length, 'conn'),
        metric('connections', 'connections', n, 'higher', true),
        metric('rssBeforeBytes', 'RSS before', before, 'lower', true),
        metric('rssAfterBytes', 'RSS after', after, 'lower', true),
      ]
    } finally {
      await closeAll(clients)
    }
  },
}
