import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import type { ClientInfo } from '../../src/core/message.js'
import type { WindowPacket } from '../../plugins/priority-delivery/packet.js'
import { InflightWindows } from '../../plugins/priority-delivery/window.js'

/**
 * A persistent session's reconnect: messages queued just before its backlog
 * was read are emitted live just after, so each reaches the window twice.
 * Whatever the backlog copy's state when the live one arrives (waiting, in
 * flight, acknowledged), only one may go out, and the store entry stays until
 * the PUBACK. `deliver` plays the core's `deliverTo` (which runs `forward`).
 */
const client: ClientInfo = { id: 'p', clean: false, username: undefined, remoteAddress: undefined, listener: 'test' }
const message = (counter: number, brokerId = 'b'): WindowPacket => ({
  topic: 't', qos: 1, payload: Buffer.from(String(counter)), retain: false, properties: { priority: 4 }, brokerId, brokerCounter: counter,
})

function setup (options: { storeCheck: boolean }): { windows: InflightWindows, delivered: number[], queued: Set<number> } {
  const delivered: number[] = []
  const queued = new Set<number>()
  const windows: InflightWindows = new InflightWindows({
    maxInflight: 2,
    maxQueued: 100,
    mode: 'strict',
    priorityOf: () => 4,
    deliver: (c, packet) => {
      if (windows.forward(c, packet as WindowPacket) === undefined) delivered.push((packet as WindowPacket).brokerCounter ?? -1)
      return true
    },
    onOverflow: () => {},
    log: pino({ level: 'silent' }),
  })
  if (options.storeCheck) windows.useQueuedCheck((_c, p) => queued.has(p.brokerCounter ?? -1))
  return { windows, delivered, queued }
}

/** The live delivery of `p`: undefined = it goes out; null = held or dropped (then: does the store keep its entry?). */
function live (windows: InflightWindows, p: WindowPacket): { goes: boolean, entryKept?: boolean } {
  const verdict = windows.forward(client, p)
  if (verdict === undefined) return { goes: true }
  // aedes tells the store to forget a withheld delivery of a persistent session; the decorator asks first
  return { goes: false, entryKept: windows.keepsStored(client, p) }
}

describe('inflight window: live copies of a reconnect\'s backlog', () => {
  test('waiting, in flight or acknowledged: the live copy never goes out, and the entry stays until acknowledged', () => {
    const { windows, delivered, queued } = setup({ storeCheck: true })
    const backlog = [1, 2, 3, 4].map((n) => message(n))
    for (const n of [1, 2, 3, 4]) queued.add(n)
    expect(windows.adoptBacklog(client, backlog)).toEqual([])
    windows.ready(client)
    expect(delivered).toEqual([1, 2])

    expect(live(windows, message(1))).toEqual({ goes: false, entryKept: true }) // in flight
    expect(live(windows, message(4))).toEqual({ goes: false, entryKept: true }) // still waiting
    queued.delete(2)
    windows.acknowledged(client, backlog[1])
    expect(delivered).toEqual([1, 2, 3])
    expect(live(windows, message(2))).toEqual({ goes: false, entryKept: true }) // acknowledged (nothing left to keep)
    queued.delete(1)
    windows.acknowledged(client, backlog[0])
    expect(delivered).toEqual([1, 2, 3, 4])
    expect(live(windows, message(3))).toEqual({ goes: false, entryKept: true }) // in flight
    expect(delivered).toEqual([1, 2, 3, 4])
    expect(windows.inspect(client)).toEqual({ inflight: 2, waiting: 0 })
  })

  test('new messages still go: past the backlog\'s last counter, or from another broker, even without a queue entry', () => {
    const { windows, delivered, queued } = setup({ storeCheck: true })
    queued.add(1)
    windows.adoptBacklog(client, [message(1)])
    windows.ready(client)
    expect(delivered).toEqual([1])
    // raced its SUBSCRIBE: delivered live, never queued
    expect(live(windows, message(5))).toEqual({ goes: true })
    windows.acknowledged(client, message(5))
    windows.acknowledged(client, message(1))
    queued.delete(1)
    expect(live(windows, message(0, 'other-broker'))).toEqual({ goes: true })
  })

  test('without the store\'s check, a copy in flight is still caught', () => {
    const { windows, delivered } = setup({ storeCheck: false })
    windows.adoptBacklog(client, [message(1), message(2)])
    windows.ready(client)
    expect(delivered).toEqual([1, 2])
    expect(live(windows, message(2))).toEqual({ goes: false, entryKept: true })
    windows.acknowledged(client, message(1))
    // acknowledged and unknown to the store: QoS 1 allows this one repeat
    expect(live(windows, message(1))).toEqual({ goes: true })
  })
})
