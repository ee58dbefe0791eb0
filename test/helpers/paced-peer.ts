/**
 * An in-process MQTT client over `broker.attach()` whose reading the test
 * sets: 'fast' (every write taken at once), 'stalled' (nothing taken until
 * set otherwise), or a byte rate (a slow link that never stops reading).
 * `stream.writableLength` is exactly what the broker holds unsent for it.
 */
import { Duplex } from 'node:stream'
import mqttPacket, { type Packet } from 'mqtt-packet'

export type Pace = { kind: 'fast' } | { kind: 'stalled' } | { kind: 'rate', bytesPerMs: number }

export class PacedPeer {
  readonly stream: Duplex
  readonly packets: Packet[] = []
  #pace: Pace = { kind: 'fast' }
  #held: Array<() => void> = []
  #due = 0
  #waiters: Array<{ test: (p: Packet) => boolean, resolve: (p: Packet) => void }> = []

  constructor () {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p: Packet) => {
      this.packets.push(p)
      for (const w of [...this.#waiters]) {
        if (w.test(p)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1)
          w.resolve(p)
        }
      }
    })
    const onWrite = (chunk: Buffer, taken: () => void): void => {
      const take = (): void => { parser.parse(chunk); taken() }
      const pace = this.#pace
      if (pace.kind === 'fast') return take()
      if (pace.kind === 'stalled') {
        this.#held.push(take)
        return
      }
      const now = performance.now()
      this.#due = Math.max(this.#due, now) + chunk.length / pace.bytesPerMs
      setTimeout(take, this.#due - now)
    }
    this.stream = new Duplex({ read () {}, write (chunk: Buffer, _enc, cb) { onWrite(chunk, cb) } })
  }

  pace (pace: Pace): void {
    this.#pace = pace
    if (pace.kind === 'stalled') return
    const held = this.#held
    this.#held = []
    for (const take of held) take()
  }

  send (packet: Record<string, unknown>): void {
    this.stream.push(mqttPacket.generate(packet as unknown as Packet))
  }

  next (test: (p: Packet) => boolean): Promise<Packet> {
    const found = this.packets.find(test)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve) => { this.#waiters.push({ test, resolve }) })
  }

  async connect (clientId: string): Promise<void> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 })
    await this.next((p) => p.cmd === 'connack')
  }

  async subscribe (topic: string, qos: number, messageId: number): Promise<void> {
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] })
    await this.next((p) => p.cmd === 'suback' && p.messageId === messageId)
  }

  publishes (topic?: string): number {
    return this.packets.filter((p) => p.cmd === 'publish' && (topic === undefined || p.topic === topic)).length
  }
}
