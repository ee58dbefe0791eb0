/**
 * Interop with Eclipse Mosquitto's command-line clients (Debian package
 * `mosquitto-clients`): another independent MQTT 3.1.1 implementation talking
 * to midge. Skipped when the binaries are not installed.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { describe, expect, onTestFinished, test } from 'vitest'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { peerInstalled } from '../helpers/peers.js'
import { uniqueId } from './support.js'

const installed = peerInstalled('mosquitto_pub', ['--help']) && peerInstalled('mosquitto_sub', ['--help'])

interface Run {
  child: ChildProcess
  done: Promise<{ code: number | null, stdout: string, stderr: string }>
}

/** Run a mosquitto client; killed when the test ends. */
function run (cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Run {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const done = new Promise<{ code: number | null, stdout: string, stderr: string }>((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await done
    }
  })
  return { child, done }
}

type TestBroker = Awaited<ReturnType<typeof startBroker>>

function hostArgs (broker: TestBroker): string[] {
  const { hostname, port } = new URL(broker.mqttUrl)
  return ['-h', hostname, '-p', port, '-V', 'mqttv311']
}

/** Resolves once `clientId` has subscribed (its SUBACK is on the way). */
function subscribed (broker: TestBroker, clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const listener = (_subs: unknown, client: { id: string }): void => {
      if (client.id === clientId) { broker.off('subscribe', listener); resolve() }
    }
    broker.on('subscribe', listener)
  })
}

describe.skipIf(!installed)('mosquitto_pub / mosquitto_sub', () => {
  test('[MQTT-3.3.4-1] mosquitto_pub at QoS 0, 1 and 2 reaches an MQTT.js subscriber at that QoS', async () => {
    const broker = await startBroker()
    const sub = await connectClient(broker.mqttUrl)
    await sub.subscribeAsync('mosq/in/#', { qos: 2 })
    for (const qos of [0, 1, 2]) {
      const got = nextMessage(sub, `mosq/in/${qos}`)
      const pub = await run('mosquitto_pub', [...hostArgs(broker), '-t', `mosq/in/${qos}`, '-m', `q${qos}`, '-q', String(qos)]).done
      expect(pub.code, pub.stderr).toBe(0)
      const msg = await got
      expect([msg.payload.toString(), msg.packet.qos]).toEqual([`q${qos}`, qos])
    }
  })

  test('[MQTT-3.8.4-6] mosquitto_sub receives an MQTT.js QoS 2 publish at its granted QoS 1', async () => {
    const broker = await startBroker()
    const id = uniqueId('mosq-sub')
    const ready = subscribed(broker, id)
    const sub = run('mosquitto_sub', [...hostArgs(broker), '-i', id, '-t', 'mosq/out/#', '-q', '1', '-C', '1', '-F', '%t %q %p'])
    await ready
    const pub = await connectClient(broker.mqttUrl)
    await pub.publishAsync('mosq/out/a', 'hello', { qos: 2 })
    const result = await sub.done
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe('mosq/out/a 1 hello')
  })

  test('[MQTT-3.3.1-6] [MQTT-3.3.1-10] retained messages set and cleared by mosquitto_pub', async () => {
    const broker = await startBroker()
    const args = hostArgs(broker)
    expect((await run('mosquitto_pub', [...args, '-t', 'mosq/ret/a', '-m', 'kept', '-r', '-q', '1']).done).code).toBe(0)
    let sub = await run('mosquitto_sub', [...args, '-t', 'mosq/ret/#', '-C', '1', '-F', '%t %r %p']).done
    expect(sub.stdout.trim()).toBe('mosq/ret/a 1 kept')
    expect((await run('mosquitto_pub', [...args, '-t', 'mosq/ret/a', '-n', '-r']).done).code).toBe(0)
    expect((await run('mosquitto_pub', [...args, '-t', 'mosq/ret/z', '-m', 'sentinel', '-r']).done).code).toBe(0)
    sub = await run('mosquitto_sub', [...args, '-t', 'mosq/ret/#', '-C', '1', '-F', '%t %p']).done
    expect(sub.stdout.trim()).toBe('mosq/ret/z sentinel') // mosq/ret/a is gone
  })

  test('[MQTT-3.1.2-5] [MQTT-3.2.2-2] a persistent mosquitto_sub session gets messages queued while it was away', async () => {
    const broker = await startBroker()
    const args = hostArgs(broker)
    const id = uniqueId('mosq-persist')
    const first = await run('mosquitto_sub', [...args, '-i', id, '-c', '-q', '1', '-t', 'mosq/queue/#', '-E']).done
    expect(first.code, first.stderr).toBe(0)
    expect((await run('mosquitto_pub', [...args, '-t', 'mosq/queue/a', '-m', 'while away', '-q', '1']).done).code).toBe(0)
    const second = await run('mosquitto_sub', [...args, '-i', id, '-c', '-q', '1', '-t', 'mosq/queue/#', '-C', '1', '-F', '%t %p']).done
    expect(second.stdout.trim()).toBe('mosq/queue/a while away')
  })

  test('[MQTT-3.1.2-8] the will of a killed mosquitto_sub is published', async () => {
    const broker = await startBroker()
    const watcher = await connectClient(broker.mqttUrl)
    await watcher.subscribeAsync('mosq/will')
    const id = uniqueId('mosq-will')
    const ready = subscribed(broker, id)
    const sub = run('mosquitto_sub', [...hostArgs(broker), '-i', id, '-t', 'mosq/x', '--will-topic', 'mosq/will', '--will-payload', 'gone'])
    await ready
    const will = nextMessage(watcher, 'mosq/will')
    sub.child.kill('SIGKILL')
    expect((await will).payload.toString()).toBe('gone')
  })

  test('[MQTT-3.9.3-2] mosquitto_sub is told its subscription failed (SUBACK 0x80 from mqtt.denySubscribe)', async () => {
    const broker = await startBroker({ mqtt: { denySubscribe: ['nosubscribe'] } })
    const result = await run('mosquitto_sub', [...hostArgs(broker), '-t', 'nosubscribe', '-E', '-d']).done
    expect(result.stdout).toMatch(/Subscribed \(mid: 1\): 128/)
    expect(result.stderr).toMatch(/All subscription requests were denied/)
  })

  test('[MQTT-3.1.2-2] mosquitto_pub speaking MQTT 3.1 is accepted, MQTT 5 refused with CONNACK 0x01', async () => {
    const broker = await startBroker()
    const { hostname, port } = new URL(broker.mqttUrl)
    const base = ['-h', hostname, '-p', port, '-t', 'mosq/v', '-m', 'x', '-i', 'mosq31']
    expect((await run('mosquitto_pub', [...base, '-V', 'mqttv31']).done).code).toBe(0)
    const v5 = await run('mosquitto_pub', [...base, '-V', 'mqttv5']).done
    expect(v5.code).not.toBe(0)
    expect(v5.stderr).toMatch(/unacceptable protocol version|Unsupported protocol version/i)
  })
})
