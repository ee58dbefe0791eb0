import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import type { OutboundPublish } from '../../src/core/hooks.js'
import type { ClientInfo } from '../../src/core/message.js'
import type { WindowPacket } from '../../plugins/priority-delivery/packet.js'
import { InflightWindows } from '../../plugins/priority-delivery/window.js'

/**
 * The windows without a broker: `deliver` plays the core's `deliverTo`, which
 * runs the `authorizeForward` chain (and so `forward`) synchronously, unless
 * an earlier hook withholds the message.
 */
function setup (maxInflight: number): { windows: InflightWindows, delivered: string[], withhold: Set<string> } {
  const delivered: string[] = []
  const withhold = new Set<string>()
  const windows: InflightWindows = new InflightWindows({
    maxInflight,
    maxQueued: 1_000,
    mode: 'strict',
    priorityOf: () => 4,
    deliver: (client, packet) => {
      if (withhold.has(packet.topic)) return true
      if (windows.forward(client, packet as WindowPacket) === undefined) delivered.push(`${client.id}:${packet.topic}`)
      return true
    },
    onOverflow: () => {},
    log: pino({ level: 'silent' }),
  })
  return { windows, delivered, withhold }
}

const client = (id: string): ClientInfo => ({ id, clean: true, username: undefined, remoteAddress: undefined, listener: 'test' })
const packet = (topic: string, qos: 0 | 1 = 1): WindowPacket => ({ topic, qos, payload: Buffer.from(topic), retain: false, properties: { priority: 4 } })
const forward = (windows: InflightWindows, c: ClientInfo, topic: string, qos: 0 | 1 = 1): OutboundPublish | null | undefined => windows.forward(c, packet(topic, qos))

describe('inflight windows: counting', () => {
  test('`inflight` sums unacknowledged deliveries over open connections', () => {
    const { windows } = setup(3)
    const a = client('a')
    const b = client('b')
    for (const t of ['1', '2', '3', '4']) forward(windows, a, t)
    forward(windows, b, '1')
    forward(windows, b, 'q0', 0) // QoS 0 is never counted
    expect(windows.inflight).toBe(4)
    expect(windows.inspect(a)).toEqual({ inflight: 3, waiting: 1 })
    windows.acknowledged(b)
    expect(windows.inflight).toBe(3)
    windows.closed(a)
    expect(windows.inflight).toBe(0)
    windows.acknowledged(a) // a late ack on a closed connection changes nothing
    expect(windows.inflight).toBe(0)
  })

  test('a hand-over takes the freed slot; one withheld by an earlier hook takes none', () => {
    const { windows, delivered, withhold } = setup(1)
    const a = client('a')
    expect(forward(windows, a, 'first')).toBeUndefined()
    expect(forward(windows, a, 'denied')).toBeNull()
    expect(forward(windows, a, 'second')).toBeNull()
    withhold.add('denied')
    windows.acknowledged(a)
    // 'denied' was handed over but withheld before the window: its slot went to 'second'.
    expect(delivered).toEqual(['a:second'])
    expect(windows.inspect(a)).toEqual({ inflight: 1, waiting: 0 })
    expect(windows.inflight).toBe(1)
    // The next live delivery is not mistaken for a hand-over: the window is full, so it waits.
    expect(forward(windows, a, 'third')).toBeNull()
  })
})
