import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest'
import { connectClient } from '../helpers/clients.js'
import { tempDir } from './helpers.js'

/**
 * DESIGN §4: once the broker has acknowledged a QoS ≥ 1 publish, the message
 * is in the store for every persistent subscriber, and `kill -9` at any moment
 * loses none of them. The broker runs as a child process (built from the
 * current sources into a private directory), is killed with SIGKILL while a
 * publisher has hundreds of messages in flight, and restarted on the same
 * data directory.
 *
 * QoS 2: aedes 1.2 sends PUBREC only after the store resolved. QoS 1: aedes
 * writes PUBACK *before* storing (lib/handlers/publish.js); the core holds
 * that PUBACK back until the store has the message (src/core/durable-acks.ts).
 */

const root = fileURLToPath(new URL('../..', import.meta.url))
const buildDir = join(root, 'tmp', `crash-build-${process.pid}`)
const fixture = fileURLToPath(new URL('./fixtures/crash-broker.mjs', import.meta.url))

beforeAll(() => {
  // tsc emits even if an unrelated file has type errors; what matters is that these exist
  spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', buildDir], { stdio: 'ignore' })
  for (const file of ['src/broker.js', 'plugins/persistent-sessions/index.js']) {
    if (!existsSync(join(buildDir, file))) throw new Error(`build of ${file} failed: run npx tsc -p tsconfig.build.json`)
  }
}, 60_000)
afterAll(() => rmSync(buildDir, { recursive: true, force: true }))

async function startChild (dataDir: string, brokerId?: string): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, [fixture, buildDir, dataDir, ...(brokerId !== undefined ? [brokerId] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
  onTestFinished(() => { child.kill('SIGKILL') })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      // Log lines (JSON too) may come first: a kill -9 mid-write leaves a torn tail, reported at start.
      const lines = out.split('\n').slice(0, -1).map((l) => JSON.parse(l) as { url?: unknown })
      const ready = lines.find((l) => typeof l.url === 'string')
      if (ready !== undefined) resolve(ready.url as string)
    })
    child.once('exit', (code) => reject(new Error(`broker exited (${String(code)}) before listening:\n${stderr}`)))
  })
  return { child, url }
}

function kill9 (child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** One publish the publisher saw acknowledged (PUBACK for QoS 1, PUBREC for QoS 2). */
interface Acked { payload: string, qos: 1 | 2 }

/**
 * Fire `count` publishes (QoS 1 and 2 alternating, all at once) at a broker and
 * kill -9 it once `killAfter` of them are acknowledged. Returns what was acknowledged.
 */
async function publishUntilKilled (broker: { child: ChildProcess, url: string }, round: number, count: number, killAfter: number): Promise<Acked[]> {
  const pub: MqttClient = mqtt.connect(broker.url, { clientId: `crash-pub-${round}`, reconnectPeriod: 0 })
  pub.on('error', () => {})
  onTestFinished(() => { pub.end(true) })
  await new Promise((resolve) => pub.once('connect', resolve))
  const acked: Acked[] = []
  const sent = new Map<number, Acked>()
  const killed = new Promise<void>((resolve) => {
    pub.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.messageId !== undefined) sent.set(p.messageId, { payload: String(p.payload), qos: p.qos as 1 | 2 })
    })
    pub.on('packetreceive', (p) => {
      if ((p.cmd !== 'puback' && p.cmd !== 'pubrec') || p.messageId === undefined) return
      const publish = sent.get(p.messageId)
      if (publish === undefined || publish.qos !== (p.cmd === 'puback' ? 1 : 2)) return
      sent.delete(p.messageId)
      acked.push(publish)
      if (acked.length === killAfter) resolve(kill9(broker.child))
    })
  })
  for (let i = 0; i < count; i++) pub.publish(`crash/${i % 7}`, `r${round}-m${i}`, { qos: i % 2 === 0 ? 1 : 2 }, () => {})
  await killed
  pub.end(true)
  return [...acked]
}

describe('persistent sessions: kill -9', () => {
  test('every QoS 1 publish acknowledged (PUBACK) before one of several kills reaches the persistent subscriber; QoS 2 exactly once', async () => {
    const dataDir = tempDir()
    let broker = await startChild(dataDir)
    const sub = await connectClient(broker.url, { clientId: 'crash-sub-q1', clean: false })
    await sub.subscribeAsync('crash/#', { qos: 2 })
    await sub.endAsync()

    // Three rounds on the same store, each killed at a random point while ~300 publishes are in flight.
    const killPoints = [0, 1, 2].map(() => 20 + Math.floor(Math.random() * 100))
    const mustArrive: Acked[] = []
    for (const [round, killAfter] of killPoints.entries()) {
      if (round > 0) broker = await startChild(dataDir)
      mustArrive.push(...await publishUntilKilled(broker, round, 400, killAfter))
    }

    broker = await startChild(dataDir)
    // A QoS 2 sentinel queued behind the backlog: MQTT.js hands a QoS 2 message over on its PUBREL,
    // so once the sentinel is handed over, every message stored before it has been too.
    const late = await connectClient(broker.url, { clientId: 'crash-late-q1' })
    await late.publishAsync('crash/sentinel', 'sentinel', { qos: 2 })
    await late.endAsync()
    const back = mqtt.connect(broker.url, { clientId: 'crash-sub-q1', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => { back.end(true) })
    const received: Array<{ payload: string, qos: number }> = []
    await new Promise<void>((resolve) => {
      back.on('message', (_topic, payload, packet) => {
        if (payload.toString() === 'sentinel') resolve()
        else received.push({ payload: payload.toString(), qos: packet.qos })
      })
    })
    const got = new Set(received.map((m) => m.payload))
    const lost = mustArrive.filter((m) => !got.has(m.payload))
    expect({ killPoints, lostQos1: lost.filter((m) => m.qos === 1).map((m) => m.payload), lostQos2: lost.filter((m) => m.qos === 2).map((m) => m.payload) })
      .toEqual({ killPoints, lostQos1: [], lostQos2: [] })
    expect(mustArrive.filter((m) => m.qos === 1).length).toBeGreaterThan(20)
    // QoS 2 arrives exactly once; QoS 1 may arrive twice (at least once).
    const qos2 = received.filter((m) => m.qos === 2).map((m) => m.payload)
    expect(new Set(qos2).size).toBe(qos2.length)
  }, 60_000)

  test('every QoS 2 publish acknowledged (PUBREC) before the kill reaches the persistent subscriber after restart', async () => {
    const dataDir = tempDir()
    const first = await startChild(dataDir)
    const sub = await connectClient(first.url, { clientId: 'crash-sub', clean: false })
    await sub.subscribeAsync('crash/#', { qos: 2 })
    await sub.endAsync()

    // fire 600 publishes without waiting; kill as soon as 150 are acknowledged, the rest in flight
    const pub: MqttClient = mqtt.connect(first.url, { clientId: 'crash-pub', reconnectPeriod: 0 })
    pub.on('error', () => {})
    onTestFinished(() => { pub.end(true) })
    await new Promise((resolve) => pub.once('connect', resolve))
    const acked = new Set<string>()
    const killed = new Promise<void>((resolve) => {
      const sent = new Map<number, string>()
      pub.on('packetsend', (p) => { if (p.cmd === 'publish' && p.messageId !== undefined) sent.set(p.messageId, String(p.payload)) })
      pub.on('packetreceive', (p) => {
        if (p.cmd !== 'pubrec' || p.messageId === undefined) return
        const payload = sent.get(p.messageId)
        if (payload !== undefined) acked.add(payload)
        if (acked.size === 150) resolve(kill9(first.child))
      })
    })
    for (let i = 0; i < 600; i++) pub.publish(`crash/${i % 7}`, `m-${i}`, { qos: 2 }, () => {})
    await killed
    const mustArrive = new Set(acked)
    pub.end(true)

    const second = await startChild(dataDir)
    // a sentinel queued behind the backlog while the subscriber is still away: once it
    // arrives, everything stored before it has too, and what is missing is missing
    const late = await connectClient(second.url, { clientId: 'crash-late' })
    await late.publishAsync('crash/sentinel', 'sentinel', { qos: 2 })
    await late.endAsync()

    const back = mqtt.connect(second.url, { clientId: 'crash-sub', clean: false, reconnectPeriod: 0 })
    onTestFinished(() => { back.end(true) })
    const received: string[] = []
    const sentinel = new Promise<void>((resolve) => {
      back.on('message', (_topic, payload) => {
        if (payload.toString() === 'sentinel') resolve()
        else received.push(payload.toString())
      })
    })
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', resolve))
    expect(connack.sessionPresent).toBe(true)
    await sentinel
    expect(mustArrive.size).toBeGreaterThanOrEqual(150)
    expect([...mustArrive].filter((m) => !received.includes(m))).toEqual([])
    // exactly once: no message twice
    expect(new Set(received).size).toBe(received.length)
  })

  /** Messages `clientId` (persistent, subscribed to will/#) gets on reconnecting, up to a sentinel published now. */
  async function queuedFor (url: string, clientId: string): Promise<string[]> {
    const late = await connectClient(url, { clientId: `${clientId}-sentinel` })
    await late.publishAsync('will/sentinel', 'sentinel', { qos: 1 })
    await late.endAsync()
    const back = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 0 })
    onTestFinished(() => { back.end(true) })
    const received: string[] = []
    await new Promise<void>((resolve) => {
      back.on('message', (_topic, payload) => {
        if (payload.toString() === 'sentinel') resolve()
        else received.push(payload.toString())
      })
    })
    back.end(true)
    return received
  }

  test.each([['a random broker id', undefined], ['a broker id set in config', 'fixed-id']])('[MQTT-3.1.2-8] the will of a client connected at a kill -9 is published when the broker starts again, even if the client is back at once; after a clean stop, once (%s)', async (_name, brokerId) => {
    const dataDir = tempDir()
    const startChildWithId = (dir: string): ReturnType<typeof startChild> => startChild(dir, brokerId)
    const first = await startChildWithId(dataDir)
    const watch = await connectClient(first.url, { clientId: 'will-watch', clean: false })
    await watch.subscribeAsync('will/#', { qos: 1 })
    await watch.endAsync()
    const owner = mqtt.connect(first.url, { clientId: 'will-owner', reconnectPeriod: 0, will: { topic: 'will/owner', payload: Buffer.from('crashed'), qos: 1, retain: false } })
    owner.on('error', () => {})
    onTestFinished(() => { owner.end(true) })
    await new Promise((resolve) => owner.once('connect', resolve))
    await kill9(first.child)
    owner.end(true)

    const second = await startChildWithId(dataDir)
    // back before aedes's own sweep (4 heartbeat intervals), with no will: the old one was due all the same
    const again = await connectClient(second.url, { clientId: 'will-owner', will: { topic: 'will/owner', payload: Buffer.from('stopped'), qos: 1, retain: false } })
    again.on('error', () => {})
    expect(await queuedFor(second.url, 'will-watch')).toEqual(['crashed'])

    // a clean stop closes the owner's connection (its will is due) and the next start does not repeat it
    const stopped = new Promise<void>((resolve) => second.child.once('exit', () => resolve()))
    second.child.kill('SIGTERM')
    await stopped
    again.end(true)
    const third = await startChildWithId(dataDir)
    expect(await queuedFor(third.url, 'will-watch')).toEqual(['stopped'])
  })
})
