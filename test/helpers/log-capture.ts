import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** Captured log lines, with a way to wait for one. */
export interface LogCapture {
  log: Logger
  lines: Array<Record<string, unknown>>
  /** Resolves with the first line (past or future) whose `msg` contains `text` (and that `matches`, if given). */
  waitFor(text: string, matches?: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>
}

export function captureLog (): LogCapture {
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ wanted: (line: Record<string, unknown>) => boolean, resolve: (line: Record<string, unknown>) => void }> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const raw of chunk.toString().split('\n')) {
        if (raw.trim() === '') continue
        const line = JSON.parse(raw) as Record<string, unknown>
        lines.push(line)
        for (const w of [...waiters]) {
          if (w.wanted(line)) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(line)
          }
        }
      }
      done()
    },
  })
  return {
    log: pino({ level: 'debug' }, stream),
    lines,
    waitFor: (text, matches = () => true) => {
      const wanted = (line: Record<string, unknown>): boolean => String(line.msg).includes(text) && matches(line)
      const seen = lines.find(wanted)
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve) => waiters.push({ wanted, resolve }))
    },
  }
}
