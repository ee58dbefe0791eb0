import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { StoreDoc } from './codec.js'
import { Datafile } from './datafile.js'
import { StoreClosedError } from './errors.js'
import { sweepIntervalMs } from './expiry.js'
import { filterMatcher } from './packet.js'
import { every } from './periodic.js'
import { loadState } from './load-state.js'
import { SessionState } from './session-state.js'
import type { BrokerRef, Brokers, ClientRef, DropListener, StoredPacket, SubscriptionInput, TopicSubscription } from './types.js'
import type { StoreFigures } from './tally.js'
import { WriteBatcher, type BatchStats } from './write-batcher.js'

/** Options of the nedb session store. */
export interface NedbPersistenceOptions {
  /** Datafile path. Omitted: nedb `inMemoryOnly` (nothing survives a restart). */
  filename?: string
  /** Seconds an offline client's session is kept; 0 = forever. Default 0. */
  sessionExpiry?: number
  /** Most queued messages per session; 0 = unbounded. Default 0. */
  maxQueued?: number
  /** Seconds between datafile compactions (besides the one at start); 0 = none. Default 3600. */
  compactInterval?: number
  /** Told about every message the store drops (never silent). */
  onDrop?: DropListener
  /** Told about every session removed by expiry. */
  onExpire?: (clientId: string) => void
  log?: Logger
  /** Clock, for tests. */
  now?: () => number
}

const noopLog = { info () {}, warn () {}, error () {}, debug () {} } as unknown as Logger

/**
 * An aedes-persistence 11 store (the async interface aedes 1.x requires) on an
 * nedb datafile. In-memory indexes serve every read; nedb is the durable log,
 * written in coalesced batches. A call that changes state resolves once the
 * change is in the file — aedes sends PUBREC (and stores before forwarding)
 * only after that.
 */
export class NedbPersistence {
  readonly #opts: Required<Omit<NedbPersistenceOptions, 'filename'>> & { filename: string | undefined }
  readonly #file: Datafile
  readonly #batch: WriteBatcher<StoreDoc>
  readonly #state: SessionState
  readonly #timers: NodeJS.Timeout[] = []
  #lastWrite = 0
  /** Per client: the write of a QoS 2 packet id not yet on disk (see outgoingUpdate). */
  readonly #idWrites = new Map<string, Promise<void>>()
  #broker: BrokerRef | undefined
  #closed = false

  constructor (options: NedbPersistenceOptions = {}) {
    this.#opts = {
      filename: options.filename,
      sessionExpiry: options.sessionExpiry ?? 0,
      maxQueued: options.maxQueued ?? 0,
      compactInterval: options.compactInterval ?? 3600,
      onDrop: options.onDrop ?? (() => {}),
      onExpire: options.onExpire ?? (() => {}),
      log: options.log ?? noopLog,
      now: options.now ?? Date.now,
    }
    const log = this.#opts.log
    this.#file = new Datafile(options.filename, log, this.#opts.now)
    this.#batch = new WriteBatcher<StoreDoc>(this.#file.sink,
      // the datafile reports an outage once (and its end); each failed batch only at debug
      (err) => log.debug({ err, file: options.filename }, 'session store write batch failed'))
    this.#state = new SessionState({
      put: (doc) => this.#batch.put(doc),
      del: (id) => this.#batch.del(id),
      next: () => ++this.#lastWrite,
    }, { maxQueued: this.#opts.maxQueued, onDrop: this.#opts.onDrop, now: this.#opts.now })
  }

  /** The broker given to `setup` (the upstream suite reads it). */
  get broker (): BrokerRef | undefined {
    return this.#broker
  }

  /** What the store holds now: running counts, free to read at every `$SYS` tick or scrape. */
  figures (): StoreFigures {
    return this.#state.figures()
  }

  /** Size of the datafile on disk (one stat; 0 in memory or before the first write). */
  diskBytes (): Promise<number> {
    return this.#file.size()
  }

  /** Datafile compactions that failed since start. */
  get compactionFailures (): number {
    return this.#file.compactionFailures
  }

  /** Why the datafile cannot be written now, undefined while it can. */
  get writeFailure (): string | undefined {
    return this.#file.writeFailure
  }

  /** Write-batch counters. */
  get stats (): Readonly<BatchStats> {
    return this.#batch.stats
  }

  /** Loads the datafile (refusing a corrupt one), then starts compaction and expiry timers. */
  async setup (broker: BrokerRef): Promise<void> {
    this.#broker = broker
    const { filename, log } = this.#opts
    const started = Date.now()
    const docs = await this.#file.load()
    try {
      this.#lastWrite = await loadState(docs, { file: this.#file, state: this.#state, batch: this.#batch, now: this.#opts.now, log, started })
      if (this.#opts.sessionExpiry > 0) {
        await this.sweep()
        this.#timers.push(every(sweepIntervalMs(this.#opts.sessionExpiry), () => this.sweep(), log, 'sweep'))
      }
    } catch (err) {
      // a refused or failed start must not keep the file locked: the user repairs it and starts again, maybe in this process
      await this.#file.close().catch(() => {})
      throw err
    }
    if (filename !== undefined && this.#opts.compactInterval > 0) {
      this.#timers.push(every(this.#opts.compactInterval * 1000, () => this.#file.compact(), log, 'compact'))
    }
  }

  async storeRetained (packet: StoredPacket): Promise<void> {
    this.#open()
    this.#state.setRetained(Object.assign({}, packet))
    await this.#batch.commit()
  }

  createRetainedStream (pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern])
  }

  createRetainedStreamCombi (patterns: readonly string[]): Readable {
    const retained = [...this.#state.retained.values()]
    return Readable.from((function * () {
      for (const pattern of patterns) {
        const matches = filterMatcher(pattern)
        for (const { packet } of retained) if (matches(String(packet.topic))) yield packet
      }
    })())
  }

  async addSubscriptions (client: ClientRef, subs: readonly SubscriptionInput[]): Promise<void> {
    this.#open()
    this.#state.subs.add(client.id, subs)
    this.#state.writeSubscriptions(client.id)
    await this.#batch.commit()
  }

  async removeSubscriptions (client: ClientRef, topics: readonly string[]): Promise<void> {
    this.#open()
    this.#state.subs.remove(client.id, topics)
    this.#state.writeSubscriptions(client.id)
    await this.#batch.commit()
  }

  async subscriptionsByClient (client: ClientRef): Promise<Array<SubscriptionInput>> {
    return this.#state.subs.list(client.id)
  }

  async countOffline (): Promise<{ subsCount: number, clientsCount: number }> {
    return this.#state.subs.count()
  }

  async subscriptionsByTopic (topic: string): Promise<TopicSubscription[]> {
    return this.#state.subs.match(topic)
  }

  async cleanSubscriptions (client: ClientRef): Promise<void> {
    this.#open()
    if (this.#state.subs.clean(client.id)) this.#state.writeSubscriptions(client.id)
    await this.#batch.commit()
  }

  async outgoingEnqueue (sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet)
  }

  async outgoingEnqueueCombi (subs: ReadonlyArray<{ clientId: string }>, packet: StoredPacket): Promise<void> {
    this.#open()
    this.#state.enqueue(subs.map((s) => s.clientId), packet)
    await this.#batch.commit()
  }

  async outgoingUpdate (client: ClientRef, packet: StoredPacket): Promise<void> {
    this.#open()
    const change = this.#state.updateEntry(client.id, packet)
    if (change === undefined) {
      // The entry is gone: acknowledged through another copy of the delivery,
      // or dropped by maxQueued while this delivery was on its way. Throwing
      // here (as aedes-persistence's memory store does) makes aedes close the
      // connection (test/persistent-sessions/takeover.test.ts): the delivery
      // goes out once more instead, which QoS 1 allows, and nothing is stored.
      this.#opts.log.debug({ clientId: client.id, cmd: packet.cmd, messageId: packet.messageId }, 'delivery of a message no longer queued')
      return
    }
    // A QoS 1 packet id is not written (see SessionState.updateEntry): the
    // delivery does not wait for the disk. The priority window keeps a
    // reconnect's backlog copy and the live copy of one message from both
    // going out (test/persistent-sessions/reconnect-live.test.ts).
    if (change === 'memory') {
      // ...unless an earlier QoS 2 delivery to the client waits for its id to be written: it goes first
      // (aedes writes each delivery when its update resolves, and messages keep their order).
      const before = this.#idWrites.get(client.id)
      if (before !== undefined) await before
      return
    }
    const written = this.#batch.commit()
    if (packet.cmd === 'publish') {
      this.#idWrites.set(client.id, written)
      const forget = (): void => { if (this.#idWrites.get(client.id) === written) this.#idWrites.delete(client.id) }
      written.then(forget, forget)
    }
    await written
  }

  async outgoingClearMessageId (client: ClientRef, packet: StoredPacket): Promise<StoredPacket | undefined> {
    this.#open()
    // The upstream suite passes a bare number here; there is nothing to match then.
    if (typeof packet !== 'object' || packet === null) return undefined
    const removed = this.#state.clearEntry(client.id, packet)
    // Not awaited: an ack's removal lost in a crash only brings the message
    // (or the PUBREL) back once more, which QoS 1 and 2 both allow for.
    if (removed !== undefined) this.#batch.flush()
    return removed
  }

  /**
   * Whether `packet` (by broker id and counter) is still queued for the
   * client, synchronously and without I/O: for a delivery seam that must not
   * hand over a copy of a message the session has already acknowledged
   * through another copy (e.g. a reconnect's backlog copy vs. the live one).
   */
  isQueued (client: ClientRef, packet: StoredPacket): boolean {
    return this.#state.queues.get(client.id)?.holds(packet) ?? false
  }

  /**
   * The client's queue now, in order: the store's own packets, not copies,
   * for a caller that only reads them (the priority window adopting a
   * reconnect's backlog). Read only: the store goes on changing them.
   */
  outgoingSnapshot (client: ClientRef): readonly StoredPacket[] {
    const queue = this.#state.queues.get(client.id)
    if (queue === undefined) return []
    const packets: StoredPacket[] = []
    for (const entry of queue.values()) packets.push(entry.packet)
    return packets
  }

  outgoingStream (client: ClientRef): Readable {
    // A snapshot of copies: aedes iterates while acks remove entries, and callers may mutate what they get.
    const queue = this.#state.queues.get(client.id)
    return Readable.from(queue === undefined ? [] : [...queue.values()].map((e) => ({ ...e.packet })))
  }

  async incomingStorePacket (client: ClientRef, packet: StoredPacket): Promise<void> {
    this.#open()
    this.#state.storeIncoming(client.id, packet)
    await this.#batch.commit()
  }

  async incomingGetPacket (client: ClientRef, packet: StoredPacket): Promise<StoredPacket> {
    const stored = this.#state.incoming.get(client.id)?.get(Number(packet.messageId))
    if (stored === undefined) throw new Error('no such packet')
    return { ...stored.packet }
  }

  async incomingDelPacket (client: ClientRef, packet: StoredPacket): Promise<void> {
    this.#open()
    if (!this.#state.deleteIncoming(client.id, Number(packet.messageId))) throw new Error('no such packet')
    await this.#batch.commit()
  }

  /**
   * [MQTT-3.1.2-6]: a clean session discards the previous one. aedes calls
   * this for a clean CONNECT once the client is registered (any previous
   * connection with its id taken over), and leaves the queue to its reconnect
   * stream, which clears one entry per store call: a client that left again
   * before that finished found the old messages in its next session. So the
   * queue goes here too, at once, with the unfinished incoming QoS 2 state.
   */
  async cleanIncoming (client: ClientRef): Promise<void> {
    this.#open()
    this.#state.cleanIncoming(client.id)
    // aedes calls this again when a clean client's connection has closed; by then a newer
    // connection may own the id (and a queue), and a clean session never queued anything here
    if ((client as { closed?: unknown }).closed !== true) this.#state.cleanQueue(client.id)
    await this.#batch.commit()
  }

  async putWill (client: ClientRef, packet: StoredPacket): Promise<void> {
    this.#open()
    // As the memory store does: the will is marked with its broker and client, in place.
    packet.brokerId = this.#broker?.id
    packet.clientId = client.id
    this.#state.putWill(client.id, packet)
    await this.#batch.commit()
  }

  async getWill (client: ClientRef): Promise<StoredPacket | undefined> {
    return this.#state.wills.get(client.id)?.packet
  }

  async delWill (client: ClientRef): Promise<StoredPacket | undefined> {
    this.#open()
    const will = this.#state.deleteWill(client.id)
    if (will !== undefined) await this.#batch.commit()
    return will
  }

  /** Wills of brokers not in `brokers` (dead ones): aedes publishes them. */
  streamWill (brokers: Brokers = {}): Readable {
    const wills = [...this.#state.wills.values()].map((s) => s.packet)
    return Readable.from(wills.filter((w) => typeof w.brokerId !== 'string' || brokers[w.brokerId] === undefined))
  }

  getClientList (topic: string): Readable {
    return Readable.from([...this.#state.subs.clientsWith(topic)])
  }

  /** The client connected: its session cannot expire while it stays. */
  async markOnline (clientId: string): Promise<void> {
    if (this.#closed) return
    this.#state.markOnline(clientId)
    await this.#batch.commit()
  }

  /** The client left: its session expires `sessionExpiry` seconds from now. */
  async markOffline (clientId: string): Promise<void> {
    if (this.#closed) return
    this.#state.markOffline(clientId, this.#opts.now())
    await this.#batch.commit()
  }

  /** When an offline client was last seen, if it has a session. */
  lastSeen (clientId: string): number | undefined {
    return this.#state.clock.lastSeen(clientId)
  }

  /** Removes sessions whose client has been offline longer than `sessionExpiry`. Returns their ids. */
  async sweep (now: number = this.#opts.now()): Promise<string[]> {
    const expiry = this.#opts.sessionExpiry
    if (this.#closed || expiry <= 0) return []
    const expired = this.#state.clock.expired(now, expiry * 1000)
    for (const clientId of expired) {
      const lastSeen = this.#state.clock.lastSeen(clientId)
      // Its queued messages will never be delivered: dead letters, like those a full queue drops.
      const queued: StoredPacket[] = []
      for (const entry of this.#state.queues.get(clientId)?.values() ?? []) if (entry.body !== undefined) queued.push(entry.packet)
      const removed = this.#state.removeSession(clientId)
      this.#opts.log.info({ clientId, lastSeen, ...removed }, 'session expired and removed')
      for (const packet of queued) this.#opts.onDrop({ reason: 'expired', clientId, packet })
      this.#opts.onExpire(clientId)
    }
    await this.#batch.commit()
    return expired
  }

  /** Rewrites the datafile with live documents only (also done at start and every `compactInterval`). */
  compact (): Promise<void> {
    return this.#closed ? Promise.resolve() : this.#file.compact()
  }

  /** Stops the timers and waits for every pending write. Idempotent. */
  async destroy (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const timer of this.#timers) clearInterval(timer)
    this.#state.saveMessageIds()
    await this.#batch.drain()
    await this.#file.close()
  }

  #open (): void {
    if (this.#closed) throw new StoreClosedError()
  }
}
