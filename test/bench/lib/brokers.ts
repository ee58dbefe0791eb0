/**
 * Brokers under test, each in its own child process so that the load
 * generator's CPU and heap are not the broker's, and RSS is the broker's alone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, statfs, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { MIDGE_BENCH_CONFIG, MIDGE_VARIANTS, type BrokerName } from './broker-names.js'
import { cpuOf, type CpuSample } from './cpu.js'
import { mergeJson, type Json } from './json.js'
import { sleep, withTimeout } from './time.js'
import { freePort } from '../../helpers/free-port.js'

export { BROKER_LABELS, MIDGE_BENCH_CONFIG, type BrokerName } from './broker-names.js'

export const MOSQUITTO_PATH = '/usr/sbin/mosquitto'

export interface MemoryReport {
  rss: number
  /** Node brokers only. */
  heapUsed?: number
}

export interface StartOptions {
  /** Merged into midge's config (`--config-json`). */
  midgeConfig?: Record<string, unknown>
  /** Extra mosquitto.conf lines. */
  mosquittoConf?: readonly string[]
  /** Node brokers write a V8 CPU profile (`--cpu-prof`) into this directory. */
  cpuProfDir?: string
}

export interface BrokerProcess {
  readonly name: BrokerName
  readonly port: number
  readonly pid: number
  /** What the broker says it runs with (midge: its effective config; recorded in the JSON). */
  readonly info: Json
  /** RSS (after a full GC for Node brokers). */
  memory(): Promise<MemoryReport>
  /** CPU time so far, all threads (NaN where procfs has no schedstat). */
  cpu(): Promise<CpuSample>
  /** Whether the process ended on its own (a crash, from the bench's point of view). */
  exited(): boolean
  /** Last lines the broker wrote to stderr, for error reports. */
  stderrTail(): string
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>
}

/** statfs(2) f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994
const READY_TIMEOUT_MS = 20_000
const STOP_GRACE_MS = 4_000
const serverDir = fileURLToPath(new URL('../servers/', import.meta.url))

export async function startBroker (name: BrokerName, opts: StartOptions = {}): Promise<BrokerProcess> {
  const node = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`]
  if (name === 'aedes') return startNode(name, node, 'aedes-server.js', [])
  if (name === 'aedes-nagle') return startNode(name, node, 'aedes-server.js', ['--nagle'])
  if (name === 'mosquitto') return startMosquitto(opts.mosquittoConf ?? [])
  const variant = MIDGE_VARIANTS[name]
  if (variant === undefined) throw new Error(`no way to start ${name}`)
  const config = JSON.stringify(mergeJson(MIDGE_BENCH_CONFIG, opts.midgeConfig ?? {}))
  const args = ['--store', variant.store, '--config-json', config, ...(variant.omit.length > 0 ? ['--omit', variant.omit.join(',')] : [])]
  if (variant.store === 'memory') return startNode(name, node, 'midge-server.js', args)
  // A fresh data directory per run: no run reads another's sessions, and the disk is left clean.
  const dataDir = await mkdtemp(join(tmpdir(), 'midge-bench-data-'))
  const removeDir = (): Promise<void> => rm(dataDir, { recursive: true, force: true })
  try {
    // A store on tmpfs never touches a disk: the report must say so.
    const onTmpfs = (await statfs(dataDir)).type === TMPFS_MAGIC
    return await startNode(name, node, 'midge-server.js', [...args, '--data-dir', dataDir], removeDir, { dataDirOnTmpfs: onTmpfs })
  } catch (err) {
    await removeDir()
    throw err
  }
}

export const mosquittoAvailable = (): boolean => existsSync(MOSQUITTO_PATH)

/** Keeps the last few KiB a child wrote to stderr. */
function tailOf (child: ChildProcess): () => string {
  let tail = ''
  child.stderr?.on('data', (chunk: Buffer) => { tail = (tail + chunk.toString('utf8')).slice(-2_000) })
  return () => tail.trim()
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  child.kill('SIGTERM')
  try {
    await withTimeout(exited, STOP_GRACE_MS, () => 'grace period over')
  } catch {
    child.kill('SIGKILL')
    await exited
  }
}

/** VmRSS from procfs, in bytes (Linux). */
async function procRss (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(kb) * 1024
}

async function startNode (name: BrokerName, nodeArgs: readonly string[], script: string, args: string[], cleanup?: () => Promise<void>, extraInfo: Json = {}): Promise<BrokerProcess> {
  const child = spawn(process.execPath, ['--expose-gc', ...nodeArgs, join(serverDir, script), '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const stderrTail = tailOf(child)
  const memWaiters: Array<(report: MemoryReport) => void> = []
  const lines = createInterface({ input: child.stdout! })

  const ready = new Promise<{ port: number, pid: number, info: Json }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${name}: not ready within ${READY_TIMEOUT_MS} ms\n${stderrTail()}`)) }, READY_TIMEOUT_MS)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${name}: exited before ready (${code ?? signal ?? '?'})\n${stderrTail()}`))
    })
    lines.on('line', (line) => {
      let msg: { ready?: boolean, port?: number, pid?: number, info?: Json, mem?: MemoryReport }
      try { msg = JSON.parse(line) as typeof msg } catch { return }
      if (msg.ready === true && typeof msg.port === 'number') {
        clearTimeout(timer)
        resolve({ port: msg.port, pid: msg.pid ?? child.pid ?? -1, info: msg.info ?? {} })
      } else if (msg.mem !== undefined) {
        memWaiters.shift()?.(msg.mem)
      }
    })
  })
  let started: { port: number, pid: number, info: Json }
  try {
    started = await ready
  } catch (err) {
    await stopChild(child)
    throw err
  }

  return {
    name,
    port: started.port,
    pid: started.pid,
    info: { ...started.info, ...extraInfo },
    cpu: () => cpuOf(started.pid),
    exited: () => child.exitCode !== null || child.signalCode !== null,
    stderrTail,
    stop: async () => {
      await stopChild(child)
      await cleanup?.()
    },
    memory: async () => {
      const report = new Promise<MemoryReport>((resolve) => { memWaiters.push(resolve) })
      child.stdin!.write('mem\n')
      return withTimeout(report, 5_000, () => `${name}: no memory report within 5 s`)
    },
  }
}

/** Polls until something accepts on `port` (bounded). */
async function waitForPort (port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && alive()) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' })
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => { resolve(false) })
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`)
}

async function startMosquitto (extraConf: readonly string[]): Promise<BrokerProcess> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'midge-bench-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  // Same ground rules as the Node brokers: loopback, anonymous, no disk, TCP_NODELAY, and no
  // per-client queue bound (aedes has none; Mosquitto's default 1000 drops QoS 1/2 messages
  // for a subscriber whose 20-message inflight window is full, which fan-in hits at once).
  await writeFile(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'set_tcp_nodelay true',
    'max_queued_messages 0',
    'log_dest stderr',
    'log_type error',
    ...extraConf,
    '',
  ].join('\n'))
  const child = spawn(MOSQUITTO_PATH, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  const stderrTail = tailOf(child)
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  try {
    await waitForPort(port, READY_TIMEOUT_MS, alive)
    if (!alive()) throw new Error('exited')
  } catch (err) {
    await stopChild(child)
    await rm(dir, { recursive: true, force: true })
    throw new Error(`mosquitto: ${(err as Error).message}\n${stderrTail()}`)
  }
  const pid = child.pid ?? -1
  return {
    name: 'mosquitto',
    port,
    pid,
    info: { persistence: false, max_queued_messages: 0, max_inflight_messages: 20, extraConf: [...extraConf] },
    exited: () => !alive(),
    stderrTail,
    memory: async () => ({ rss: await procRss(pid) }),
    cpu: () => cpuOf(pid),
    stop: async () => {
      await stopChild(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}
