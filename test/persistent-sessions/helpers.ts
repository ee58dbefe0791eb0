import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { onTestFinished } from 'vitest'
import { NedbPersistence, type NedbPersistenceOptions } from '../../plugins/persistent-sessions/index.js'
import type { StoredPacket, StoreDrop } from '../../plugins/persistent-sessions/store/types.js'

/** A temp directory removed when the test ends. */
export function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'midge-sessions-'))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

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

export interface OpenStore {
  store: NedbPersistence
  drops: StoreDrop[]
  broker: { id: string, counter: number }
}

/** Opens (and sets up) a store on `filename`; destroyed when the test ends unless closed first. */
export async function openStore (filename: string | undefined, options: NedbPersistenceOptions = {}): Promise<OpenStore> {
  const drops: StoreDrop[] = []
  const store = new NedbPersistence({ filename, onDrop: (d) => drops.push(d), ...options })
  const broker = { id: 'broker-1', counter: 0 }
  await store.setup(broker)
  onTestFinished(() => store.destroy())
  return { store, drops, broker }
}

export async function readAll<T = StoredPacket> (stream: Readable): Promise<T[]> {
  const out: T[] = []
  for await (const item of stream) out.push(item as T)
  return out
}

/** A publish packet as aedes hands it to the store. */
export function publish (topic: string, payload: Buffer | string, extra: Partial<StoredPacket> = {}): StoredPacket {
  return { cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false, brokerId: 'broker-1', brokerCounter: ++counter, ...extra }
}
let counter = 0
