import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** Captured log lines, with a way to wait for one. */
export interface LogCapture {
  log: Logger
  lines: Array<Record<string, unknown>>
  /** Resolves with the first line (past or future) whose `msg` contains `text`. */
  waitFor(text: string): Promise<Record<string, unknown>>
}

export function captureLog (): LogCapture {
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<{ text: string, resolve: (line: Record<string, unknown>) => void }> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const raw of chunk.toString().split('\n')) {
        if (raw.trim() === '') continue
        const line = JSON.parse(raw) as Record<string, unknown>
        lines.push(line)
        for (const w of [...waiters]) {
          if (String(line.msg).includes(w.text)) {
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
    waitFor: (text) => {
      const seen = lines.find((l) => String(l.msg).includes(text))
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve) => waiters.push({ text, resolve }))
    },
  }
}
