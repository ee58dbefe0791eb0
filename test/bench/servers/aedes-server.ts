/**
 * Plain aedes 1.2, the baseline: default options, its built-in memory
 * persistence, one `net` server. TCP_NODELAY is on (as midge sets it) unless
 * `--nagle` asks for the stock `net.createServer` behaviour, which stalls
 * request/response traffic on Nagle + delayed ACKs (DESIGN.md §3).
 *
 *   node aedes-server.js [--host 127.0.0.1] [--port 0] [--nagle]
 */
import { once } from 'node:events'
import net from 'node:net'
import { Aedes } from 'aedes'
import { argValue, hasFlag, serveControl } from './control.js'

const host = argValue('host') ?? '127.0.0.1'
const port = Number(argValue('port') ?? '0')
const noDelay = !hasFlag('nagle')

const aedes = await Aedes.createBroker()
const server = net.createServer({ noDelay }, (socket) => { aedes.handle(socket) })
server.listen(port, host)
await once(server, 'listening')
const address = server.address()
if (address === null || typeof address === 'string') throw new Error('unexpected server address')

serveControl({
  port: address.port,
  info: { noDelay, ...pick((aedes as unknown as { opts?: Record<string, unknown> }).opts, ['concurrency', 'drainTimeout']) },
  close: async () => {
    const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    await new Promise<void>((resolve) => { aedes.close(() => { resolve() }) })
    await closed
  },
})

/** The named options aedes resolved (its defaults included), for the report. */
function pick (opts: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => opts?.[k] !== undefined).map((k) => [k, opts?.[k]]))
}
