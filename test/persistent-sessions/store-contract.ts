import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { expect, test as vitest } from 'vitest'
import type { StoredPacket } from '../../plugins/persistent-sessions/store/types.js'

/**
 * midge's own store contract, on top of the upstream suite: what midge's
 * plugins rely on every `sessions.store` to keep, byte for byte and field for
 * field — binary payloads as Buffers, string payloads as strings, and the
 * per-message metadata in `packet.properties` (priority, expiry, delivery
 * attempts, first-published time; src/core/message.ts MessageMeta) — through
 * the queue, retained messages, incoming QoS 2 state and wills, and, for
 * durable stores, through a restart.
 */

/** The aedes-persistence 11 calls the contract uses. */
export interface ContractStore {
  storeRetained(packet: StoredPacket): Promise<void>
  createRetainedStream(pattern: string): Readable | AsyncIterable<unknown>
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>
  outgoingUpdate(client: { id: string }, packet: StoredPacket): Promise<unknown>
  outgoingStream(client: { id: string }): Readable | AsyncIterable<unknown>
  incomingStorePacket(client: { id: string }, packet: StoredPacket): Promise<void>
  incomingGetPacket(client: { id: string }, packet: { messageId: number }): Promise<StoredPacket>
  putWill(client: { id: string }, packet: StoredPacket): Promise<unknown>
  getWill(client: { id: string }): Promise<StoredPacket | null | undefined>
  destroy(): Promise<void>
}

export interface ContractTarget {
  /** A fresh, empty, set-up store (the test destroys it). */
  open(): Promise<ContractStore>
  /** Durable stores: destroys `store` and opens it again on the same data. */
  reopen?: (store: ContractStore) => Promise<ContractStore>
  /**
   * Contract tests this store is known to fail (by the name's start), each
   * with the reason: they run as `test.fails`, so a fix upstream shows up as
   * a failure here, asking for the entry to go.
   */
  knownGaps?: Record<string, string>
}

/** The key of the "packet id is its subscriber's own" test, for `knownGaps`. */
export const OWN_PACKET_ID = "a delivery's packet id is its subscriber's own"


const meta = { priority: 8, expiresAt: 1_900_000_000_123, attempts: 3, firstPublishedAt: 1_700_000_000_456 }
// not valid UTF-8, every byte value: a JSON round trip would not survive this
const binary = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28]), randomBytes(48), Buffer.from(Array.from({ length: 256 }, (_, i) => i))])
let counter = 0
const queued = (payload: Buffer | string, extra: Partial<StoredPacket> = {}): StoredPacket => ({
  cmd: 'publish', topic: 'contract/t', payload, qos: 1, retain: false, dup: false, brokerId: 'contract-broker', brokerCounter: ++counter, properties: { ...meta }, ...extra,
})

async function all (stream: Readable | AsyncIterable<unknown>): Promise<StoredPacket[]> {
  const out: StoredPacket[] = []
  for await (const item of stream) out.push(item as StoredPacket)
  return out
}

function expectBytes (actual: unknown, expected: Buffer): void {
  expect(Buffer.isBuffer(actual)).toBe(true)
  expect((actual as Buffer).equals(expected)).toBe(true)
}

export function describeStoreContract (target: ContractTarget): void {
  const restarts = target.reopen !== undefined ? [false, true] : [false]
  const gaps = Object.keys(target.knownGaps ?? {})
  const test = (name: string, fn: () => Promise<void>): void => {
    if (gaps.some((g) => name.startsWith(g))) vitest.fails(name, fn)
    else vitest(name, fn)
  }
  for (const restart of restarts) {
    const when = restart ? ', after a restart' : ''
    /** The store to read back from: the same one, or reopened on its data. */
    const readBack = async (store: ContractStore): Promise<ContractStore> => restart && target.reopen !== undefined ? await target.reopen(store) : store

    test(`queued messages keep Buffer and string payloads and properties${when}`, async () => {
      let store = await target.open()
      try {
        const bin = queued(binary, { properties: { ...meta, correlationData: Buffer.from([1, 2, 3]) } })
        const text = queued('a string payload', { qos: 2, properties: { priority: 0 } })
        for (const p of [bin, text]) await store.outgoingEnqueueCombi([{ clientId: 'c-a' }, { clientId: 'c-b' }], p)
        store = await readBack(store)
        for (const clientId of ['c-a', 'c-b']) {
          const [first, second, ...rest] = await all(store.outgoingStream({ id: clientId }))
          expect(rest).toEqual([])
          expect(first).toMatchObject({ cmd: 'publish', topic: 'contract/t', qos: 1, properties: { ...meta } })
          expectBytes(first?.payload, binary)
          expectBytes(first?.properties?.correlationData, Buffer.from([1, 2, 3]))
          expect(second).toMatchObject({ qos: 2, payload: 'a string payload', properties: { priority: 0 } })
        }
      } finally {
        await store.destroy()
      }
    })

    test(`${OWN_PACKET_ID} and properties stay${when}`, async () => {
      let store = await target.open()
      try {
        const p = queued(binary)
        await store.outgoingEnqueueCombi([{ clientId: 'c-a' }, { clientId: 'c-b' }], p)
        await store.outgoingUpdate({ id: 'c-a' }, { ...p, messageId: 41 })
        store = await readBack(store)
        const [a] = await all(store.outgoingStream({ id: 'c-a' }))
        const [b] = await all(store.outgoingStream({ id: 'c-b' }))
        expect(a).toMatchObject({ messageId: 41, properties: meta })
        expectBytes(a?.payload, binary)
        expect(b?.properties).toEqual(meta)
        // c-b was never sent this message: it must not carry c-a's packet id
        expect(b?.messageId ?? undefined).toBeUndefined()
      } finally {
        await store.destroy()
      }
    })

    test(`retained messages, incoming QoS 2 packets and wills keep payloads and properties${when}`, async () => {
      let store = await target.open()
      try {
        await store.storeRetained({ cmd: 'publish', topic: 'contract/r', payload: binary, qos: 1, retain: true, properties: { ...meta } })
        await store.incomingStorePacket({ id: 'c-in' }, { cmd: 'publish', topic: 'contract/in', payload: binary, qos: 2, messageId: 42, properties: { ...meta } })
        await store.putWill({ id: 'c-will' }, { cmd: 'publish', topic: 'contract/will', payload: Buffer.from([0xde, 0xad, 0x00]), qos: 1, retain: false })
        store = await readBack(store)
        const retained = await all(store.createRetainedStream('contract/#'))
        expect(retained).toHaveLength(1)
        expect(retained[0]?.properties).toEqual(meta)
        expectBytes(retained[0]?.payload, binary)
        const incoming = await store.incomingGetPacket({ id: 'c-in' }, { messageId: 42 })
        expect(incoming).toMatchObject({ topic: 'contract/in', qos: 2, messageId: 42, properties: meta })
        expectBytes(incoming.payload, binary)
        const will = await store.getWill({ id: 'c-will' })
        expect(will).toMatchObject({ topic: 'contract/will', qos: 1 })
        expectBytes(will?.payload, Buffer.from([0xde, 0xad, 0x00]))
      } finally {
        await store.destroy()
      }
    })
  }
}
