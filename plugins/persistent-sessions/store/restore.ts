import type { MessageBody, QueueEntry } from './client-queue.js'
import { decodeBody, decodePacket, decodeSubscription, type StoreDoc } from './codec.js'
import { Packet } from './packet.js'
import { priorityOf } from './queue-bound.js'
import type { SessionState } from './session-state.js'
import { payloadBytes } from './tally.js'
import type { StoredPacket } from './types.js'

/**
 * Rebuilds the in-memory state from the documents nedb loaded.
 *
 * A crash can leave the datafile mid-change: a new version of a record written
 * but the old one not yet removed, a queue entry whose message body is gone,
 * a body nobody points to. Each logical record keeps its newest version (the
 * highest write number); everything else is listed as obsolete for removal.
 */

export interface RestoreResult {
  /** Highest write number seen: new writes continue after it. */
  lastWrite: number
  /** Document ids to remove: older versions, orphans, unknown documents. */
  obsolete: string[]
  /** Clients with a session but no last-seen record. */
  unseen: string[]
  counts: { retained: number, sessions: number, queued: number, incoming: number, wills: number, orphans: number }
}

type Doc<K extends StoreDoc['t']> = Extract<StoreDoc, { t: K }>

/** A document nedb loaded (valid JSON) that is not a record midge can read: the datafile is damaged. */
export class UnreadableRecord extends Error {
  constructor (readonly docId: string, reason: string, options?: ErrorOptions) {
    super(reason, options)
    this.name = 'UnreadableRecord'
  }
}

/** Runs `read` on one document; whatever it throws names the document. */
function reading<T> (doc: { _id?: unknown }, read: () => T): T {
  try {
    return read()
  } catch (err) {
    throw new UnreadableRecord(String(doc._id), (err as Error).message ?? String(err), { cause: err })
  }
}

/** `loadedAt`: the queue time of bodies from files written before queue times were recorded. */
export function restoreState (docs: readonly StoreDoc[], state: SessionState, loadedAt: number): RestoreResult {
  const obsolete: string[] = []
  let lastWrite = 0
  let orphans = 0

  // 1. newest version of each logical record. Bodies and queue entries are
  // nearly every document: kept out of the string-keyed map (a body is never
  // rewritten, an entry's identity is its numeric position).
  const latest = new Map<string, { doc: StoreDoc, w: number }>()
  const latestEntries = new Map<number, { doc: Doc<'q'>, w: number }>()
  const bodyDocs: Array<{ doc: Doc<'m'>, w: number }> = []
  const keep = <K>(map: Map<K, { doc: StoreDoc, w: number }>, key: K, doc: StoreDoc, w: number): void => {
    const seen = map.get(key)
    if (seen === undefined) {
      map.set(key, { doc, w })
    } else if (w > seen.w) {
      obsolete.push(seen.doc._id)
      map.set(key, { doc, w })
    } else {
      obsolete.push(doc._id)
    }
  }
  for (const doc of docs) {
    const w = parseInt(doc._id, 36)
    // midge writes every _id as a base-36 write number, and only the record types below
    if (!Number.isSafeInteger(w) || String(w.toString(36)) !== doc._id) throw new UnreadableRecord(String(doc._id), 'its _id is not a write number')
    const key = doc.t === 'm' || doc.t === 'q' ? '' : reading(doc, () => logicalKey(doc))
    if (key === undefined) throw new UnreadableRecord(doc._id, `unknown record type ${JSON.stringify((doc as { t?: unknown }).t)}`)
    if (w > lastWrite) lastWrite = w
    if (doc.t === 'm') bodyDocs.push({ doc, w })
    else if (doc.t === 'q') keep(latestEntries as Map<number, { doc: StoreDoc, w: number }>, doc.s, doc, w)
    else keep(latest, key, doc, w)
  }

  // 2. message bodies first: queue entries point at them
  // in write order, so that the tally's first held body is the oldest
  bodyDocs.sort((a, b) => a.w - b.w)
  const bodies = new Map<string, { body: MessageBody, packet: StoredPacket, w: number }>()
  for (const { doc, w } of bodyDocs) {
    const packet = reading(doc, () => decodeBody(doc))
    if (packet === undefined) {
      obsolete.push(doc._id)
      continue
    }
    bodies.set(doc._id, { body: { id: doc._id, refs: 0, bytes: payloadBytes(packet), at: doc.a ?? loadedAt }, packet, w })
  }
  for (const { doc } of latest.values()) {
    reading(doc, () => {
      switch (doc.t) {
        case 'r': state.restoreRetained(String(doc.p.f.topic), { packet: decodePacket(doc.p), docId: doc._id }); break
        case 's':
          state.subs.add(doc.c, doc.l.map(decodeSubscription))
          state.subDocs.set(doc.c, doc._id)
          break
        case 'i': restoreIncoming(state, doc); break
        case 'w': state.wills.set(doc.c, { packet: decodePacket(doc.p), docId: doc._id }); break
        case 'c': state.clock.restore(doc.c, { at: doc.seen, docId: doc._id }); break
      }
    })
  }
  const entries = [...latestEntries.values()].map((e) => e.doc)

  // 3. queues, in their original order
  entries.sort((a, b) => a.s - b.s)
  // every body still pointed to, by the write number it was queued under (the tally's first is the oldest)
  const held: Array<{ body: MessageBody, w: number }> = []
  for (const doc of entries) {
    const entry = reading(doc, () => toEntry(doc, bodies, loadedAt))
    if (entry === undefined) {
      orphans++
      obsolete.push(doc._id)
      continue
    }
    // a body inside its entry's document: queued under the entry's position
    if (entry.body !== undefined && entry.body.id === undefined) held.push({ body: entry.body, w: doc.s })
    state.restoreEntry(doc.c, entry)
  }
  for (const { body, w } of bodies.values()) {
    if (body.refs === 0) obsolete.push(body.id as string)
    else held.push({ body, w })
  }
  held.sort((a, b) => a.w - b.w)
  for (const { body } of held) state.tally.hold(body)

  const unseen: string[] = []
  const sessions = new Set<string>([...state.subDocs.keys(), ...state.queues.keys(), ...state.incoming.keys()])
  for (const clientId of sessions) {
    if (!state.clock.has(clientId)) unseen.push(clientId)
  }
  return {
    lastWrite,
    obsolete,
    unseen,
    counts: {
      retained: state.retained.size,
      sessions: sessions.size,
      queued: entries.length - orphans,
      incoming: [...state.incoming.values()].reduce((n, m) => n + m.size, 0),
      wills: state.wills.size,
      orphans,
    },
  }
}

function toEntry (doc: Doc<'q'>, bodies: Map<string, { body: MessageBody, packet: StoredPacket }>, loadedAt: number): QueueEntry | undefined {
  if (doc.p !== undefined) {
    // replaced by a PUBREL (or another broker's packet): stored whole
    const packet = decodePacket(doc.p)
    return { seq: doc.s, docId: doc._id, packet, body: undefined, priority: priorityOf(packet) }
  }
  if (doc.j !== undefined) {
    // a message queued for this client only: the body is in the entry
    const decoded = decodeBody(doc)
    if (decoded === undefined) return undefined
    const packet = new Packet(decoded)
    if (doc.mid !== undefined) packet.messageId = doc.mid
    return { seq: doc.s, docId: doc._id, packet, body: { id: undefined, refs: 1, bytes: payloadBytes(packet), at: doc.a ?? loadedAt }, priority: priorityOf(packet) }
  }
  const stored = doc.m === undefined ? undefined : bodies.get(doc.m)
  if (stored === undefined) return undefined
  stored.body.refs++
  // Each subscriber gets its own Packet (its packet id is its own), sharing the payload.
  const packet = new Packet(stored.packet)
  if (doc.mid !== undefined) packet.messageId = doc.mid
  return { seq: doc.s, docId: doc._id, packet, body: stored.body, priority: priorityOf(packet) }
}

function restoreIncoming (state: SessionState, doc: Doc<'i'>): void {
  const decoded = decodePacket(doc.p)
  const packet = new Packet(decoded)
  packet.messageId = decoded.messageId
  let map = state.incoming.get(doc.c)
  if (map === undefined) {
    map = new Map()
    state.incoming.set(doc.c, map)
  }
  map.set(Number(decoded.messageId), { packet, docId: doc._id })
}

/** The identity of the record a document is a version of. */
function logicalKey (doc: StoreDoc): string | undefined {
  switch (doc.t) {
    case 'r': return 'r\u0000' + String(doc.p.f.topic)
    case 's': return 's\u0000' + doc.c
    case 'm': return 'm\u0000' + doc._id
    case 'q': return 'q\u0000' + String(doc.s)
    case 'i': return 'i\u0000' + doc.c + '\u0000' + String(doc.p.f.messageId)
    case 'w': return 'w\u0000' + doc.c
    case 'c': return 'c\u0000' + doc.c
    default: return undefined
  }
}
