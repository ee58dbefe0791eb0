import type { Aedes, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { Logger } from 'pino'
import type { BrokerConfig } from '../config/schema.js'
import type { ClientDirectory } from './client-info.js'
import type { BrokerEvents } from './events.js'
import type { AuthVerdict, ConnackRefusal, ConnectInfo, HookRegistry, InboundPublish, OutboundPublish, SubscriptionRequest, Verdict } from './hooks.js'
import type { ClientInfo, Message, QoS } from './message.js'
import { connectViolation } from './spec-connect.js'
import type { DurableAcks } from './durable-acks.js'
import { type ForwardClient, type ForwardPacket, ForwardRules, isStoredRedelivery } from './spec-forward.js'
import type { CountingClient, Resends } from './spec-resend.js'
import type { RetainedDeliveries } from './spec-retained.js'
import { isSessionMarker, markSession } from './spec-session.js'
import type { StoredSubscriptions } from './spec-stored-subscriptions.js'
import type { StalledReaders } from './slow-consumers.js'
import { deciding as subackDeciding, granted as subackGrant } from './spec-suback.js'
import { isTooDeepFilter } from './spec-wire.js'
import { filterError, topicMatches } from './topic.js'
import { WriteBatches } from './write-batch.js'
import { errorReason, LineThrottle } from './line-throttle.js'

interface SlotContext {
  config: Readonly<BrokerConfig>
  hooks: HookRegistry
  clients: ClientDirectory
  log: Logger
  events: BrokerEvents
  /** Holds QoS 1 PUBACKs until the store has the message; only with a durable store. */
  acks: DurableAcks | undefined
  retained: RetainedDeliveries
  resends: Resends
  stored: StoredSubscriptions
  stalls: StalledReaders
  /** Why the store cannot serve a new connection now (`PersistenceOptions.unavailable`). */
  storeUnavailable?: (() => string | undefined) | undefined
}

/** The aedes-persistence calls hook-slots makes itself (session marker, a returning session's subscriptions). */
type Store = Parameters<typeof markSession>[0] & {
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>
}

type AuthError = Error & { returnCode: number }

function authError (returnCode: number, message: string): AuthError {
  return Object.assign(new Error(message), { returnCode })
}

/**
 * aedes has one function per hook (`this.authorizePublish = opts.authorizePublish`).
 * We fill each slot exactly once with a runner that applies midge's core rules
 * and then walks the named chain; a chain that defers falls back to aedes's
 * default behaviour (including its ban on client publishes to `$SYS`).
 */
export function installHookSlots (aedes: Aedes, ctx: SlotContext): void {
  const { config, hooks, clients, log, events, acks, retained, resends, stored, stalls, storeUnavailable } = ctx
  /** CONNECTs the spec says to refuse with CONNACK 0x02: aedes sends that code only from `authenticate`. */
  const refusals = new WeakMap<Client, string>()
  const forward = new ForwardRules()
  const denySubscribe = config.mqtt.denySubscribe
  const maxQos = config.mqtt.maxQos
  const maxClientIdLength = config.limits.maxClientIdLength
  const keepaliveLimit = config.limits.keepaliveLimit
  const store = (): Store => (aedes as unknown as { persistence: Store }).persistence

  aedes.preConnect = (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void) => {
    const violation = connectViolation(packet, maxClientIdLength)
    // A malformed CONNECT: close without CONNACK [MQTT-3.1.4-1]. A refused one is answered in `authenticate`.
    if (violation?.action === 'close') return callback(new Error(`malformed CONNECT: ${violation.reason}`), false)
    if (violation?.action === 'refuse') refusals.set(client, violation.reason)
    // aedes answers a keepalive over `keepaliveLimit` with CONNACK 6, a code 3.1.1 does not have:
    // with no fitting code the server closes without CONNACK [MQTT-3.2.2-6].
    if (keepaliveLimit > 0 && (packet.keepalive === 0 || (packet.keepalive ?? 0) > keepaliveLimit)) {
      return callback(new Error(`keepalive ${packet.keepalive ?? 0} outside 1-${keepaliveLimit}`), false)
    }
    const connect: ConnectInfo = {
      clientId: packet.clientId ?? '',
      clean: packet.clean !== false,
      keepalive: packet.keepalive ?? 0,
      protocolVersion: packet.protocolVersion ?? 4,
      username: packet.username,
    }
    clients.setUsername(client, packet.username)
    const chain = hooks.chain('preConnect')
    if (chain.length === 0) return callback(null, true)
    runVerdicts(chain.map((fn) => () => fn(clients.of(client), connect)))
      .then((verdict) => callback(verdict === 'deny' ? new Error('connection refused') : null, verdict !== 'deny'),
        (err: Error) => { log.error({ err }, 'preConnect hook failed'); callback(err, false) })
  }

  // While the store is away every device of the fleet is refused here: one line a minute, with the count.
  const unavailableLines = new LineThrottle(60_000)
  aedes.authenticate = (client, username, password, callback) => {
    // [MQTT-3.1.3-8] / [MQTT-3.1.3-9] identifier rejected: CONNACK 0x02, then close.
    const refusal = refusals.get(client)
    if (refusal !== undefined) return callback(authError(2, refusal), null)
    const unavailable = storeUnavailable?.()
    if (unavailable !== undefined) {
      // keyed on the refusal, not the reason: that names the connection's state, which changes as it retries
      const sinceLastLine = unavailableLines.pass('store unavailable')
      if (sinceLastLine !== undefined) log.warn({ reason: unavailable, clientId: client.id, sinceLastLine }, 'connection refused with CONNACK 0x03 (server unavailable): the session store cannot serve it')
      return callback(authError(3, `server unavailable: ${unavailable}`), null)
    }
    const chain = hooks.chain('authenticate')
    if (chain.length === 0) return checkWill(client, callback)
    const info = clients.of(client)
    runAuth(chain.map((fn) => () => fn(info, username, password ?? undefined)))
      .then((code) => code === 0 ? checkWill(client, callback) : callback(authError(code, 'not authorized'), null),
        (err: Error) => { log.error({ err, clientId: client.id }, 'authenticate hook failed'); callback(authError(3, 'server unavailable'), null) })
  }

  /**
   * The will must be one the client may publish, checked now, as Mosquitto
   * does (CONNACK 0x05 otherwise): a will stored unchecked was published
   * unchecked after a crash, by the start-up replay and aedes's sweep alike,
   * which know no client (a will on $SYS/... was forged that way).
   */
  const checkWill = (client: Client, callback: (error: AuthError | null, success: boolean | null) => void): void => {
    const will = (client as Client & { _will?: PublishPacket | null })._will
    if (will === undefined || will === null) return callback(null, true)
    aedes.authorizePublish(client, will, (err) => {
      if (err === undefined || err === null) return callback(null, true)
      log.info({ clientId: client.id, topic: will.topic }, 'CONNECT refused: the will is to a topic the client may not publish to')
      callback(authError(5, 'will not authorized'), null)
    })
  }

  /** Let aedes go on with a publish; a client's QoS 1 PUBACK waits for the store (durable-acks.ts). */
  const allow = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    // A will has no packet id: no PUBACK to hold.
    if (acks !== undefined && client !== null && packet.qos === 1 && packet.messageId !== undefined) {
      acks.hold(client.conn, packet, () => { callback(null) })
    } else {
      callback(null)
    }
  }
  const decide = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void, error: Error | null): void => {
    if (error === null) allow(client, packet, callback)
    else callback(error)
  }

  aedes.authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => {
    // [MQTT-4.7.3-2] no NUL in a topic name (aedes checks only wildcards); an error closes the connection.
    if (client !== null && packet.topic.includes('\u0000')) return callback(new Error('NUL character in topic name'))
    const chain = hooks.chain('authorizePublish')
    if (chain.length === 0) return decide(client, packet, callback, defaultPublishVerdict(client, packet.topic))
    const info = client === null ? undefined : clients.of(client)
    runVerdicts(chain.map((fn) => () => fn(info, packet as unknown as InboundPublish)))
      .then((verdict) => {
        if (verdict === 'allow') allow(client, packet, callback)
        else if (verdict === 'deny') callback(new Error(`publish to ${packet.topic} not authorized`))
        else decide(client, packet, callback, defaultPublishVerdict(client, packet.topic))
      }, (err: Error) => { log.error({ err }, 'authorizePublish hook failed'); callback(err) })
  }

  aedes.authorizeSubscribe = (client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) => {
    // The session store keeps only what is granted here (spec-stored-subscriptions.ts).
    stored.deciding(sub)
    const storedQos = sub.qos
    // Which SUBSCRIBE this is for, asked now: the SUBACK shows the grant (spec-suback.ts).
    const subscribe = stored.isRestoring(sub) ? undefined : subackDeciding(client.conn, sub.topic)
    const answer = (error: Error | null, granted: Subscription | null): void => {
      if (stored.isRestoring(sub) && error === null && !isSessionMarker(sub.topic)) return restored(client, sub.topic, storedQos, granted, callback)
      if (error === null) subackGrant(subscribe, sub.topic, granted === null ? null : granted.qos)
      // Stored under the requested filter (UNSUBSCRIBE names it, and a reconnect asks the hooks again with it), at the granted QoS.
      stored.decided(sub, error === null && granted !== null ? { ...sub, qos: granted.qos } : null)
      callback(error, granted)
    }
    // A restored session's marker (spec-session.ts): it makes Session Present true, and is never routed.
    if (isSessionMarker(sub.topic)) return answer(null, null)
    // A filter deeper than limits.maxTopicLevels, blanked on the wire: refused, SUBACK 0x80 [MQTT-3.8.4-1].
    if (isTooDeepFilter(sub.topic)) return answer(null, null)
    // aedes's own filter check misses e.g. `a#` and `+a`; a malformed filter is a protocol error
    // and closes the connection [MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.8.0-1].
    const invalid = filterError(sub.topic)
    if (invalid !== undefined) return answer(new Error(`invalid topic filter "${sub.topic}": ${invalid}`), null)
    if (denySubscribe.length > 0 && denySubscribe.some((deny) => topicMatches(deny, sub.topic))) return answer(null, null)
    if (sub.qos > maxQos) sub.qos = maxQos
    const chain = hooks.chain('authorizeSubscribe')
    if (chain.length === 0) return answer(null, sub)
    const info = clients.of(client)
    let request: SubscriptionRequest = { topic: sub.topic, qos: sub.qos as QoS }
    const steps = chain.map((fn) => async (): Promise<Verdict> => {
      const reply = await fn(info, request)
      if (typeof reply === 'object') {
        request = reply.rewrite
        return 'defer'
      }
      return reply
    })
    runVerdicts(steps).then((verdict) => {
      if (verdict === 'deny') return answer(null, null)
      // A rewrite may lower the QoS, never raise it past the request [MQTT-3.9.3-1]; without a valid QoS it keeps the request's.
      const qos = request.qos === 0 || request.qos === 1 || request.qos === 2 ? Math.min(request.qos, sub.qos) : sub.qos
      answer(null, { ...sub, topic: request.topic, qos: qos as QoS })
    }, (err: Error) => {
      // On a session's return there is no SUBACK to refuse it in: the connection is closed before CONNACK and the client comes back.
      const restoring = stored.isRestoring(sub)
      log.error({ err, clientId: client.id, topic: sub.topic }, restoring ? 'authorizeSubscribe hook failed on a session\'s return; the connection is closed' : 'authorizeSubscribe hook failed; the filter is refused')
      answer(restoring ? err : null, null)
    })
  }

  /** A returning session's stored filter, asked about again: the store follows a refusal or a lower QoS. */
  const restored = (client: Client, filter: string, storedQos: number, granted: Subscription | null, callback: (error: Error | null, subscription?: Subscription | null) => void): void => {
    if (granted !== null && granted.qos >= storedQos) return callback(null, granted)
    const update = granted === null
      ? store().removeSubscriptions(client, [filter])
      : store().addSubscriptions(client, [{ topic: filter, qos: granted.qos }])
    update.then(() => { callback(null, granted) }, (err: unknown) => {
      log.error({ err, clientId: client.id, topic: filter }, 'could not update a stored subscription the session was no longer granted; it stays stored')
      callback(null, granted)
    })
  }

  const decideForward = (client: Client, info: ClientInfo, packet: AedesPublishPacket): AedesPublishPacket | null => {
    // QoS, DUP and `$` rules aedes misses (spec-forward.ts).
    let out = forward.apply(client as unknown as ForwardClient, packet as unknown as ForwardPacket) as unknown as AedesPublishPacket | null
    if (out === null) return null
    for (const fn of hooks.chain('authorizeForward')) {
      let answer: OutboundPublish | null | undefined
      try {
        answer = fn(info, out as unknown as OutboundPublish)
      } catch (err) {
        // aedes calls this inside its delivery: a throw would end the process. Withheld, as a deny.
        log.error({ err, clientId: info.id, topic: packet.topic }, 'authorizeForward hook failed; the delivery is withheld')
        return null
      }
      if (answer === null) return null
      if (answer !== undefined) out = answer as unknown as AedesPublishPacket
    }
    // Re-sending a stored message, aedes writes the packet it passed in, not our answer: carry a hook's changes over.
    if (out !== packet && isStoredRedelivery(packet as unknown as ForwardPacket)) {
      const { topic, payload, qos, retain, dup, properties } = out as AedesPublishPacket & { properties?: unknown }
      Object.assign(packet, { topic, payload, qos, retain, dup }, properties !== undefined ? { properties } : {})
      return packet
    }
    return out
  }

  // One `deliver` event per PUBLISH aedes is about to write (first sends and re-sends): the only
  // per-delivery signal aedes has, so $SYS "messages sent" counts here, after every hook decided.
  const batches = new WriteBatches()
  aedes.authorizeForward = (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    const info = clients.of(client)
    let out = decideForward(client, info, packet)
    // A live QoS 0 message to a client that stopped reading (slow-consumers.ts); not a retained one sent on SUBSCRIBE.
    if (out !== null && out.qos === 0 && packet.brokerId !== null && stalls.isStalled(client)) {
      events.emit('drop', { reason: 'slow_consumer', clientId: info.id, message: { topic: out.topic, payload: out.payload, qos: 0, retain: out.retain }, at: Date.now() })
      return null
    }
    if (out !== null && out.qos > 0 && out.messageId === undefined) {
      // A new QoS 1/2 delivery: a retained one sent on SUBSCRIBE is stored first (spec-retained.ts);
      // its packet id must not be one still in flight from before a reconnect (spec-resend.ts).
      const delivery = out.retain ? retained.forward(client, out) : out
      resends.assignId(client as unknown as CountingClient, delivery)
      out = delivery
    }
    if (out !== null) {
      batches.hold(client.conn)
      events.emit('deliver', out as unknown as Message, info)
    }
    return out
  }

  // While the store is down every reconnect of the fleet fails here: one line a minute, with the count.
  const markFailures = new LineThrottle(60_000)
  aedes.on('clientReady', (client: Client) => {
    if (client.clean) return
    markSession(store(), client.id).catch((err: unknown) => {
      const reason = errorReason(err)
      const sinceLastLine = markFailures.pass(reason)
      if (sinceLastLine !== undefined) log.warn({ reason, clientId: client.id, sinceLastLine }, 'could not mark the session')
    })
  })
  aedes.on('clientDisconnect', (client: Client) => { resends.closed(client) })
  if (acks !== undefined) aedes.on('publish', (packet) => { acks.published(packet) })

  if (hooks.chain('published').length > 0) {
    aedes.published = (packet: AedesPublishPacket, client: Client | null, callback: (error?: Error | null) => void) => {
      const info = client === null ? undefined : clients.of(client)
      const chain = hooks.chain('published')
      chain.reduce<Promise<void>>((prev, fn) => prev.then(() => fn(packet as unknown as Message, info)), Promise.resolve())
        .then(() => callback(null), (err: Error) => { log.error({ err }, 'published hook failed'); callback(null) })
    }
  }
}

/** aedes's default: clients may not publish to `$SYS`; the broker itself may. */
function defaultPublishVerdict (client: Client | null, topic: string): Error | null {
  return client !== null && topic.startsWith('$SYS') ? new Error('$SYS topics are reserved') : null
}

/** Walk a chain until a hook decides; `defer` from all returns `defer`. */
async function runVerdicts (steps: ReadonlyArray<() => Verdict | Promise<Verdict>>): Promise<Verdict> {
  for (const step of steps) {
    const verdict = await step()
    if (verdict !== 'defer') return verdict
  }
  return 'defer'
}

/** 0 = allowed; otherwise the CONNACK code. All defer = allowed (anonymous unless a plugin says no). */
async function runAuth (steps: ReadonlyArray<() => AuthVerdict | Promise<AuthVerdict>>): Promise<0 | ConnackRefusal> {
  for (const step of steps) {
    const verdict = await step()
    if (verdict === 'allow') return 0
    if (verdict === 'deny') return 5
    if (typeof verdict === 'object') return verdict.deny
  }
  return 0
}
