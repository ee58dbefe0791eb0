/**
 * Quick throughput check: midge with priority-delivery on vs off.
 *
 *   node <build>/test/priority-delivery/throughput.js run <build-on> <build-off> [rounds]
 *
 * Each round starts each broker in its own child process (port 0, memory
 * store, logs off) and pushes QoS 1 fan-out (1 publisher → 20 subscribers)
 * and QoS 1 fan-in (20 publishers → 1 subscriber) through it with raw
 * mqtt-packet clients (TCP_NODELAY, PUBACK at once, 16 publishes in flight per
 * publisher). Prints deliveries/s per round and the median on/off ratio.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import mqttPacket from 'mqtt-packet'

const SUBSCRIBERS = 20
const MESSAGES = 4_000
const WINDOW = 16
const PAYLOAD = Buffer.alloc(64, 7)

class LoadClient {
  readonly socket: net.Socket
  received = 0
  onMessage: () => void = () => {}
  #acks = new Map<number, () => void>()
  #next = 0

  private constructor (socket: net.Socket) {
    this.socket = socket
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd === 'publish') {
        this.received++
        if (p.qos === 1) socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId as number }))
        this.onMessage()
      } else if (p.cmd === 'puback' || p.cmd === 'suback' || p.cmd === 'connack') {
        const key = p.cmd === 'connack' ? 0 : (p as { messageId: number }).messageId
        this.#acks.get(key)?.()
        this.#acks.delete(key)
      }
    })
    socket.on('data', (chunk) => parser.parse(chunk))
  }

  static async open (port: number, clientId: string): Promise<LoadClient> {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const client = new LoadClient(socket)
    await client.#request(0, { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 60 })
    return client
  }

  subscribe (topic: string): Promise<void> {
    const id = this.#id()
    return this.#request(id, { cmd: 'subscribe', messageId: id, subscriptions: [{ topic, qos: 1 }] })
  }

  /** `count` QoS 1 publishes, `WINDOW` unacknowledged at most. */
  async publish (topic: string, count: number): Promise<void> {
    let sent = 0
    const lane = async (): Promise<void> => {
      while (sent < count) {
        sent++
        const id = this.#id()
        await this.#request(id, { cmd: 'publish', topic, payload: PAYLOAD, qos: 1, retain: false, dup: false, messageId: id })
      }
    }
    await Promise.all(Array.from({ length: WINDOW }, lane))
  }

  close (): void {
    this.socket.destroy()
  }

  #id (): number {
    this.#next = this.#next >= 65535 ? 1 : this.#next + 1
    return this.#next
  }

  #request (key: number, packet: object): Promise<void> {
    return new Promise((resolve) => {
      this.#acks.set(key, resolve)
      this.socket.write(mqttPacket.generate(packet as mqttPacket.Packet))
    })
  }
}

function waitFor (clients: readonly LoadClient[], total: number): Promise<void> {
  return new Promise((resolve) => {
    let n = 0
    for (const c of clients) c.onMessage = () => { if (++n === total) resolve() }
  })
}

async function fanOut (port: number): Promise<number> {
  const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, (_, i) => LoadClient.open(port, `fo-sub-${i}`)))
  await Promise.all(subs.map((s) => s.subscribe('bench/fo')))
  const pub = await LoadClient.open(port, 'fo-pub')
  const done = waitFor(subs, MESSAGES * SUBSCRIBERS)
  const start = performance.now()
  await pub.publish('bench/fo', MESSAGES)
  await done
  const rate = (MESSAGES * SUBSCRIBERS) / ((performance.now() - start) / 1000)
  for (const c of [...subs, pub]) c.close()
  return rate
}

async function fanIn (port: number): Promise<number> {
  const sub = await LoadClient.open(port, 'fi-sub')
  await sub.subscribe('bench/fi/#')
  const pubs = await Promise.all(Array.from({ length: SUBSCRIBERS }, (_, i) => LoadClient.open(port, `fi-pub-${i}`)))
  const per = Math.floor(MESSAGES * 5 / SUBSCRIBERS)
  const done = waitFor([sub], per * SUBSCRIBERS)
  const start = performance.now()
  await Promise.all(pubs.map((p, i) => p.publish(`bench/fi/${i}`, per)))
  await done
  const rate = (per * SUBSCRIBERS) / ((performance.now() - start) / 1000)
  for (const c of [sub, ...pubs]) c.close()
  return rate
}

/** Child: run a broker from the build at `root`, print its port, stop on stdin end. */
async function serve (root: string): Promise<void> {
  const { createBroker } = await import(pathToFileURL(join(root, 'src/broker.js')).href) as typeof import('../../src/broker.js')
  const broker = await createBroker({ logLevel: 'silent', listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }], sys: { interval: 0 }, sessions: { store: 'memory' } })
  const port = Number(new URL(broker.addresses()[0]?.url ?? '').port)
  process.stdout.write(`${port}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => { void broker.close().then(() => process.exit(0)) })
}

async function withBroker<T> (root: string, run: (port: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [process.argv[1] as string, 'serve', root], { stdio: ['pipe', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve))
  try {
    return await run(Number(line))
  } finally {
    child.stdin.end()
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function main (): Promise<void> {
  const [mode, on, off, roundsArg] = process.argv.slice(2)
  if (mode === 'serve' && on !== undefined) return serve(on)
  if (mode !== 'run' || on === undefined || off === undefined) throw new Error('usage: throughput.js run <build-on> <build-off> [rounds]')
  const rounds = Number(roundsArg ?? 5)
  const results: Record<string, { on: number[], off: number[] }> = { fanOut: { on: [], off: [] }, fanIn: { on: [], off: [] } }
  for (let r = 0; r < rounds; r++) {
    for (const [name, scenario] of [['fanOut', fanOut], ['fanIn', fanIn]] as const) {
      // alternate which goes first, so warm-up and thermal drift do not favour one
      const order = r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)
      for (const which of order) {
        const rate = await withBroker(which === 'on' ? on : off, scenario)
        results[name]?.[which].push(rate)
      }
    }
  }
  for (const [name, { on: a, off: b }] of Object.entries(results)) {
    process.stdout.write(`${name}: on ${median(a).toFixed(0)}/s off ${median(b).toFixed(0)}/s ratio ${(median(a) / median(b)).toFixed(3)}  (on ${a.map((x) => x.toFixed(0)).join(' ')} | off ${b.map((x) => x.toFixed(0)).join(' ')})\n`)
  }
}

main().catch((err: unknown) => { process.stderr.write(`${String(err)}\n`); process.exit(1) })
