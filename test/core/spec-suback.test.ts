/**
 * spec-suback.ts on a plain Writable, with mqtt-packet writing the packets as
 * aedes does: the SUBACK is rebuilt, everything else passes byte for byte,
 * and the wrapper is gone once no SUBSCRIBE waits.
 */
import { Writable } from 'node:stream'
import mqtt from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { deciding, granted, subscribeArrived } from '../../src/core/spec-suback.js'

class Sink extends Writable {
  readonly chunks: Buffer[] = []
  override _write (chunk: Buffer, _enc: string, cb: () => void): void { this.chunks.push(chunk); cb() }
  /** What reached the sink: mqtt-packet corks a stream until the next tick. */
  async bytes (): Promise<Buffer> {
    await new Promise(process.nextTick)
    return Buffer.concat(this.chunks)
  }
}

const parse = (bytes: Buffer): mqtt.Packet[] => {
  const parser = mqtt.parser()
  const out: mqtt.Packet[] = []
  parser.on('packet', (p) => out.push(p))
  parser.parse(bytes)
  return out
}

describe('SUBACK per entry', async () => {
  it('answers each entry, lets a delivery written in between through untouched, and unwraps', async () => {
    const sink = new Sink()
    const own = sink.write
    subscribeArrived(sink, 9, [{ topic: 'a', qos: 1 }, { topic: 'b', qos: 0 }, { topic: 'a', qos: 2 }])
    expect(sink.write).not.toBe(own)
    granted(deciding(sink, 'a'), 'a', 1) // a hook lowered the kept entry (requested 2) to 1
    granted(deciding(sink, 'b'), 'b', null)
    mqtt.writeToStream({ cmd: 'publish', topic: 'x', payload: Buffer.from([0x90]), qos: 0, retain: false, dup: false }, sink)
    mqtt.writeToStream({ cmd: 'suback', messageId: 9, granted: [2, 0] }, sink)
    const [publish, suback] = parse(await sink.bytes())
    expect(publish).toMatchObject({ cmd: 'publish', topic: 'x', payload: Buffer.from([0x90]) })
    expect(suback).toMatchObject({ cmd: 'suback', messageId: 9, granted: [1, 0x80, 1] })
    expect(sink.write).toBe(own)
  })

  it('gives each of two waiting SUBSCRIBEs of the same filter its own grant, whichever is answered first', async () => {
    const sink = new Sink()
    subscribeArrived(sink, 1, [{ topic: 'a', qos: 2 }])
    subscribeArrived(sink, 2, [{ topic: 'a', qos: 2 }, { topic: 'b', qos: 1 }])
    // aedes asks in arrival order; the answers come in any order
    const first = deciding(sink, 'a')
    const second = deciding(sink, 'a')
    const secondB = deciding(sink, 'b')
    granted(secondB, 'b', 1)
    granted(second, 'a', 0)
    granted(first, 'a', 2)
    mqtt.writeToStream({ cmd: 'suback', messageId: 2, granted: [2, 1] }, sink)
    mqtt.writeToStream({ cmd: 'suback', messageId: 1, granted: [2] }, sink)
    expect(parse(await sink.bytes())).toMatchObject([{ messageId: 2, granted: [0, 1] }, { messageId: 1, granted: [2] }])
  })

  it('passes a SUBACK it has no SUBSCRIBE for as aedes wrote it, and stays wrapped for the one still waiting', async () => {
    const sink = new Sink()
    subscribeArrived(sink, 1, [{ topic: 'a', qos: 1 }])
    mqtt.writeToStream({ cmd: 'suback', messageId: 2, granted: [0] }, sink)
    expect(parse(await sink.bytes())).toMatchObject([{ cmd: 'suback', messageId: 2, granted: [0] }])
    expect(Object.prototype.hasOwnProperty.call(sink, 'write')).toBe(true)
    mqtt.writeToStream({ cmd: 'suback', messageId: 1, granted: [1] }, sink)
    expect(Object.prototype.hasOwnProperty.call(sink, 'write')).toBe(false)
  })

  it('builds a SUBACK longer than 127 bytes with a two-byte length', async () => {
    const sink = new Sink()
    const entries = Array.from({ length: 200 }, (_, i) => ({ topic: i % 2 === 0 ? 'same' : `t/${i}`, qos: i % 3 }))
    subscribeArrived(sink, 300, entries)
    const distinct = [...new Map(entries.map((e) => [e.topic, e])).values()]
    mqtt.writeToStream({ cmd: 'suback', messageId: 300, granted: distinct.map((e) => e.qos) }, sink)
    const [suback] = parse(await sink.bytes()) as mqtt.ISubackPacket[]
    // the repeated filter's earlier entries: never above the grant of the one that stays (the last, QoS 0)
    expect(suback!.granted).toEqual(entries.map((e) => (e.topic === 'same' ? 0 : e.qos)))
  })
})
