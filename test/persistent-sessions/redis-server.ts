import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { createBroker, type Broker, type BrokerOptions } from '../../src/broker.js'
import type { BrokerConfigInput } from '../../src/index.js'
import { peerInstalled } from '../helpers/peers.js'
import { freePort } from '../helpers/free-port.js'

/**
 * A private redis-server for the tests: its own free port and directory, no
 * persistence files, gone when stopped. Skips (locally) or fails (CI, with
 * MIDGE_REQUIRE_PEERS=1) where redis-server is not installed.
 */

export const REDIS_SERVER = 'redis-server'

/** Whether the redis tests can run here (throws in CI when they must). */
export const redisInstalled = (): boolean => peerInstalled(REDIS_SERVER)

export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>/<db>` */
  url(db?: number): string
  /** FLUSHALL: every database empty again. */
  flush(): Promise<void>
  /** Any command; resolves with the first reply line. */
  command(...args: string[]): Promise<string>
  /** SIGKILL, keeping its port and directory for `revive`. */
  kill(): Promise<void>
  /** Starts it again on the same port. */
  revive(): Promise<void>
  stop(): Promise<void>
}

/** Sends one command (RESP array of bulk strings) and resolves with the first reply line. */
function command (port: number, ...args: string[]): Promise<string> {
  const resp = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(resp))
    let reply = ''
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString()
      const end = reply.indexOf('\r\n')
      if (end >= 0) {
        socket.end()
        const line = reply.slice(0, end)
        if (line.startsWith('-')) reject(new Error(`redis: ${line.slice(1)}`))
        else resolve(line)
      }
    })
    socket.once('error', reject)
  })
}

function launch (port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'notice'], { stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.once('exit', (code) => { reject(new Error(`redis-server exited (${String(code)}) before it was ready:\n${out.slice(-1_000)}`)) })
    child.once('error', reject)
  })
}

/** Starts redis-server on a free port; a port taken in between is retried. */
export async function startRedis (): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'midge-redis-'))
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    try {
      let child = await launch(port, dir)
      const kill = async (): Promise<void> => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
        child.kill('SIGKILL')
        await exited
      }
      return {
        port,
        url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
        flush: async () => { await command(port, 'FLUSHALL') },
        command: (...args) => command(port, ...args),
        kill,
        revive: async () => { child = await launch(port, dir) },
        stop: async () => {
          await kill()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    } catch (err) {
      lastError = err
    }
  }
  rmSync(dir, { recursive: true, force: true })
  throw lastError
}

/** A broker on `sessions.store: redis` at `redisUrl` (one MQTT listener on a free port), closed after the test. */
export async function brokerOnRedis (redisUrl: string, config: BrokerConfigInput = {}, options: BrokerOptions = {}): Promise<{ broker: Broker, url: string }> {
  const broker = await createBroker({
    logLevel: 'silent',
    listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
    sys: { interval: 0 },
    sessions: { store: 'redis' },
    cluster: { redis: redisUrl },
    ...config,
  }, options)
  onTestFinished(() => broker.close())
  return { broker, url: broker.addresses()[0]?.url ?? '' }
}
