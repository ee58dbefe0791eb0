import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { onTestFinished } from 'vitest'
import { createBroker, type Broker, type BrokerOptions } from '../../src/broker.js'
import type { BrokerConfigInput } from '../../src/config/schema.js'

/** Captured pino lines, parsed. */
export interface LogSink {
  lines: Array<Record<string, unknown>>
  stream: Writable
}

export function logSink (): LogSink {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { lines, stream }
}

/**
 * A broker on loopback, port 0, memory store, closed when the test ends. A
 * file store without a `dataDir` gets a temp directory of its own (removed
 * after), so tests running side by side never share `./data`.
 */
export async function startBroker (config: BrokerConfigInput = {}, options: BrokerOptions = {}): Promise<Broker & { mqttUrl: string, wsUrl: string }> {
  const ownDir = config.sessions?.store === 'nedb' && config.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'midge-broker-')) : undefined
  const broker = await createBroker({
    ...(ownDir !== undefined ? { dataDir: ownDir } : {}),
    logLevel: 'silent',
    listeners: [
      { type: 'mqtt', host: '127.0.0.1', port: 0 },
      { type: 'ws', host: '127.0.0.1', port: 0 },
    ],
    sys: { interval: 0 },
    ...config,
    sessions: { store: 'memory', ...config.sessions },
  }, options)
  onTestFinished(async () => {
    await broker.close()
    if (ownDir !== undefined) rmSync(ownDir, { recursive: true, force: true })
  })
  const url = (type: string): string => broker.addresses().find((a) => a.type === type)?.url ?? ''
  return Object.assign(broker, { mqttUrl: url('mqtt'), wsUrl: url('ws') })
}
