import { Readable } from 'node:stream'
import type { ClientInfo } from '../../src/core/message.js'
import type { AedesPersistence } from '../../src/core/plugin-api.js'
import type { StampablePacket, WindowPacket } from './packet.js'
import type { InflightWindows } from './window.js'
import { withOverrides } from '../../src/core/store-overrides.js'

/** The aedes-persistence 11 calls the decorator changes; every other call reaches the store untouched. */
interface OutgoingStore {
  outgoingEnqueue(sub: { clientId: string }, packet: StampablePacket): Promise<void>
  outgoingEnqueueCombi(subs: ReadonlyArray<{ clientId: string }>, packet: StampablePacket): Promise<void>
  outgoingClearMessageId(client: object, packet: unknown): Promise<unknown>
  outgoingStream(client: object): Readable
  /** Optional (the nedb store has it): whether the message is still queued for the client. */
  isQueued?(client: { id: string }, packet: WindowPacket): boolean
  /** Optional (the nedb store has it): the client's queue now, in order, the store's own objects (read only). */
  outgoingSnapshot?(client: { id: string }): readonly WindowPacket[]
}

/** What the decorator works with. */
export interface DecoratorContext {
  windows: InflightWindows
  /** The core seam `BrokerApi.clientOf`: the connection behind an aedes client object. */
  clientOf(storeClient: object): ClientInfo | undefined
  /** Set the priority on a message that has none yet (the broker's own publishes; see index.ts). */
  stamp(packet: StampablePacket): void
}

/**
 * Wraps the session store so that messages the inflight window holds stay
 * queued and a reconnect's backlog is handed over by priority:
 *
 * - `outgoingEnqueue(Combi)`: aedes calls it for every QoS > 0 publish, with or
 *   without persistent subscribers, before the message is emitted. A message
 *   without a priority gets one here, so the store (and its `maxQueued` victim
 *   choice) and every later delivery see it.
 * - `outgoingClearMessageId` with a `publish` packet: aedes's reaction to
 *   `authorizeForward` returning null for a persistent session ("forget it").
 *   If the window held that message, the entry stays. Acks (`puback`,
 *   `pubcomp`) and real refusals reach the store as before.
 * - `outgoingStream` for a persistent session's live connection: the queue is
 *   read once; aedes gets only the re-sends (PUBRELs owed and messages sent
 *   before the disconnect), the window takes the rest.
 * - `isQueued`, where the store has it, lets the window recognise the live
 *   copy of a backlog message already acknowledged; `outgoingSnapshot` reads
 *   a reconnect's backlog without a stream or copies.
 *
 * Anything else — the upstream suite's bare `{ id }` clients, clean sessions —
 * passes straight through.
 */
export function decorateStore (store: AedesPersistence, ctx: DecoratorContext): AedesPersistence {
  const inner = store as unknown as OutgoingStore
  if (typeof inner.isQueued === 'function') {
    const isQueued = inner.isQueued.bind(inner)
    ctx.windows.useQueuedCheck((client, packet) => isQueued(client, packet))
  }
  const overrides: OutgoingStore = {
    outgoingEnqueue (sub, packet) {
      ctx.stamp(packet)
      return inner.outgoingEnqueue(sub, packet)
    },
    outgoingEnqueueCombi (subs, packet) {
      ctx.stamp(packet)
      return inner.outgoingEnqueueCombi(subs, packet)
    },
    outgoingClearMessageId (client, packet) {
      if (isPublish(packet)) {
        const info = ctx.clientOf(client)
        if (info !== undefined && !info.clean && ctx.windows.keepsStored(info, packet)) return Promise.resolve(undefined)
      }
      return inner.outgoingClearMessageId(client, packet)
    },
    outgoingStream (client) {
      const info = ctx.clientOf(client)
      if (info === undefined || info.clean) return inner.outgoingStream(client)
      // Read now: aedes calls this once per connection, and the snapshot must be of this moment.
      if (typeof inner.outgoingSnapshot === 'function') {
        // no stream to iterate and no copies: the window only reads the entries, aedes copies what it re-sends
        return Readable.from(ctx.windows.adoptBacklog(info, inner.outgoingSnapshot(client as { id: string })))
      }
      const source = inner.outgoingStream(client)
      return Readable.from(backlog(ctx.windows, info, source))
    },
  }
  return withOverrides(store, overrides)
}

async function * backlog (windows: InflightWindows, client: ClientInfo, source: Readable): AsyncGenerator<WindowPacket> {
  const entries: WindowPacket[] = []
  for await (const entry of source) entries.push(entry as WindowPacket)
  yield * windows.adoptBacklog(client, entries)
}

function isPublish (packet: unknown): packet is WindowPacket {
  return typeof packet === 'object' && packet !== null && (packet as { cmd?: unknown }).cmd === 'publish'
}
