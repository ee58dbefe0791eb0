/**
 * The protocol between the bench runner and a broker child process:
 * - stdout: one JSON line `{"ready":true,"port":N,"pid":P,"info":{...}}` once listening
 *   (`info`: what the broker runs with, for the report),
 *   then one `{"mem":{...}}` line per `mem` request;
 * - stdin: `mem\n` asks for a GC (when run with --expose-gc) and a memory report;
 *   end of stdin means the runner is gone, so the broker shuts down;
 * - SIGTERM / SIGINT: close the broker (bounded) and exit 0.
 */
import { createInterface } from 'node:readline'

export interface ServerHandle {
  port: number
  close: () => Promise<void>
  /** Settings worth recording with the results (plain JSON). */
  info?: Record<string, unknown>
}

const CLOSE_TIMEOUT_MS = 3_000

function send (line: object): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}

/** Announces `server` to the runner and serves `mem` requests until told to stop. */
export function serveControl (server: ServerHandle): void {
  let stopping = false
  const stop = (code: number): void => {
    if (stopping) return
    stopping = true
    const timer = setTimeout(() => process.exit(code), CLOSE_TIMEOUT_MS)
    timer.unref()
    server.close().then(() => process.exit(code), (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => { stop(0) })
  process.on('SIGINT', () => { stop(0) })

  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line.trim() !== 'mem') return
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage()
    send({ mem: { rss, heapUsed, heapTotal, external, gc: gc !== undefined } })
  })
  lines.on('close', () => { stop(0) })

  send({ ready: true, port: server.port, pid: process.pid, info: server.info ?? {} })
}

/** Reads `--name value` / `--flag` arguments (no dependency on the runner's parser). */
export function argValue (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

export function hasFlag (name: string): boolean {
  return process.argv.includes(`--${name}`)
}
