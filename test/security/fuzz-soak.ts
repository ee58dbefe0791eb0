/**
 * The long fuzz run: `node dist/test/security/fuzz-soak.js [--packets 100000]
 * [--concurrency 50] [--per-connection 40] [--seed N]`.
 *
 * Starts the built `midge` CLI as a child process (so a crash is an exit we
 * can see and RSS is the broker's alone), keeps a well-behaved QoS 1
 * publisher/subscriber pair talking throughout, sends hostile packets over
 * many raw connections, then prints one JSON line of figures. Exits 1 if the
 * broker died or the good pair lost or reordered a message.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { hashPassword } from '../../src/security/scrypt.js'
import { runFuzz } from './fuzz-lib.js'

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '50' },
    'per-connection': { type: 'string', default: '40' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
  },
})
const packets = Number(values.packets)
const seed = Number(values.seed)

/** Resident set size of `pid` in MiB (Linux /proc). */
function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? Number.NaN : Math.round(Number(m[1]) / 102.4) / 10
}

const dir = mkdtempSync(join(tmpdir(), 'midge-soak-'))
const config = join(dir, 'midge.json')
writeFileSync(config, JSON.stringify({
  dataDir: join(dir, 'data'),
  logLevel: 'info',
  listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }, { type: 'ws', host: '127.0.0.1', port: 0 }],
  sessions: { store: 'memory' },
  sys: { interval: 0 },
  limits: { maxPacketSize: 64 * 1024, connectTimeoutMs: 5_000 },
  // Every layer on: passwords (fuzz CONNECTs carry username "u") and an ACL on every path.
  security: { passwordFile: join(dir, 'passwd'), aclFile: join(dir, 'acl') },
}))
writeFileSync(join(dir, 'passwd'), `u:${await hashPassword('pw')}\ngood:${await hashPassword('g')}\n`)
writeFileSync(join(dir, 'acl'), ['topic readwrite a/#', 'topic read #', 'user good', 'topic readwrite good/#', 'pattern readwrite fuzz/%c/#'].join('\n'))
const bin = fileURLToPath(new URL('../../bin/midge.js', import.meta.url))
const child = spawn(process.execPath, [bin, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] })
let crashed: string | undefined
child.once('exit', (code, signal) => { crashed = `exited with ${code ?? signal}` })
const urls = await new Promise<Record<string, string>>((resolve, reject) => {
  const found: Record<string, string> = {}
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string, listener?: string, url?: string }
      if (entry.msg === 'listening' && entry.listener !== undefined && entry.url !== undefined) found[entry.listener] = entry.url
      if (Object.keys(found).length === 2) resolve(found)
    } catch { /* not JSON */ }
  })
  child.once('exit', () => reject(new Error('midge exited before listening')))
})

const sub = await mqtt.connectAsync(urls.mqtt!, { clientId: 'soak-sub', username: 'good', password: 'g', reconnectPeriod: 0 })
await sub.subscribeAsync('good/t', { qos: 1 })
const pub = await mqtt.connectAsync(urls.ws!, { clientId: 'soak-pub', username: 'good', password: 'g', reconnectPeriod: 0 })
const received: number[] = []
sub.on('message', (_t, payload) => { received.push(Number(payload.toString())) })
let sent = 0
let fuzzing = true
const conversation = (async () => {
  while (fuzzing && crashed === undefined) await pub.publishAsync('good/t', String(sent++), { qos: 1 })
})()

const rssBefore = rssMiB(child.pid!)
let rssPeak = rssBefore
const sampler = setInterval(() => { if (crashed === undefined) rssPeak = Math.max(rssPeak, rssMiB(child.pid!)) }, 250)
const started = performance.now()
const stats = await runFuzz({ host: '127.0.0.1', port: Number(new URL(urls.mqtt!).port), packets, perConnection: Number(values['per-connection']), concurrency: Number(values.concurrency), seed })
const seconds = (performance.now() - started) / 1000
fuzzing = false
await conversation
// the last acknowledged message reaches the subscriber within a few round trips (bounded: 5 s)
await new Promise<void>((resolve) => {
  const timer = setTimeout(finish, 5_000)
  function finish (): void { clearTimeout(timer); sub.off('message', check); resolve() }
  function check (): void { if (received.length >= sent) finish() }
  sub.on('message', check)
  check()
})
clearInterval(sampler)
const rssAfter = crashed === undefined ? rssMiB(child.pid!) : Number.NaN
const inOrder = received.length === sent && received.every((n, i) => n === i)

const report = {
  seed, packets: stats.packets, connections: stats.connections, bytes: stats.bytes, failedToOpen: stats.failedToOpen,
  seconds: Math.round(seconds * 10) / 10, crashes: crashed === undefined ? 0 : 1, crash: crashed,
  goodMessages: { sent, received: received.length, inOrder },
  rssMiB: { before: rssBefore, peak: rssPeak, after: rssAfter },
}
process.stdout.write(JSON.stringify(report) + '\n')
await Promise.all([sub.endAsync(true), pub.endAsync(true)])
child.kill('SIGTERM')
process.exit(report.crashes === 0 && inOrder ? 0 : 1)
