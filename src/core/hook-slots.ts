import type { Aedes, AedesPublishPacket, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes'
import type { Logger } from 'pino'
import type { BrokerConfig } from '../config/schema.js'
import type { ClientDirectory } from './client-info.js'
import type { AuthVerdict, ConnackRefusal, ConnectInfo, HookRegistry, InboundPublish, OutboundPublish, SubscriptionRequest, Verdict } from './hooks.js'
import type { ClientInfo, Message, QoS } from './message.js'
import { filterError, topicMatches } from './topic.js'

interface SlotContext {
  config: Readonly<BrokerConfig>
  hooks: HookRegistry
  clients: ClientDirectory
  log: Logger
}

/** aedes keeps a client's subscriptions here (filter → granted QoS); not in its public types. */
type ClientSubscriptions = Record<string, { qos: number } | undefined>

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
  const { config, hooks, clients, log } = ctx
  const connects = new WeakMap<Client, ConnectInfo>()
  const denySubscribe = config.mqtt.denySubscribe
  const maxQos = config.mqtt.maxQos
  const maxClientIdLength = config.limits.maxClientIdLength

  aedes.preConnect = (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void) => {
    const connect: ConnectInfo = {
      clientId: packet.clientId ?? '',
      clean: packet.clean !== false,
      keepalive: packet.keepalive ?? 0,
      protocolVersion: packet.protocolVersion ?? 4,
      username: packet.username,
    }
    connects.set(client, connect)
    clients.setUsername(client, packet.username)
    const chain = hooks.chain('preConnect')
    if (chain.length === 0) return callback(null, true)
    runVerdicts(chain.map((fn) => () => fn(clients.of(client), connect)))
      .then((verdict) => callback(verdict === 'deny' ? new Error('connection refused') : null, verdict !== 'deny'),
        (err: Error) => { log.error({ err }, 'preConnect hook failed'); callback(err, false) })
  }

  aedes.authenticate = (client, username, password, callback) => {
    const connect = connects.get(client)
    // [MQTT-3.1.3-8] an empty client id needs clean session 1, else CONNACK 0x02.
    if (connect !== undefined && connect.clientId === '' && !connect.clean) {
      return callback(authError(2, 'empty client id requires clean session'), null)
    }
    if (connect !== undefined && connect.clientId.length > maxClientIdLength) {
      return callback(authError(2, `client id longer than ${maxClientIdLength}`), null)
    }
    const chain = hooks.chain('authenticate')
    if (chain.length === 0) return callback(null, true)
    const info = clients.of(client)
    runAuth(chain.map((fn) => () => fn(info, username, password ?? undefined)))
      .then((code) => code === 0 ? callback(null, true) : callback(authError(code, 'not authorized'), null),
        (err: Error) => { log.error({ err, clientId: client.id }, 'authenticate hook failed'); callback(authError(3, 'server unavailable'), null) })
  }

  aedes.authorizePublish = (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) => {
    const chain = hooks.chain('authorizePublish')
    if (chain.length === 0) return callback(defaultPublishVerdict(client, packet.topic))
    const info = client === null ? undefined : clients.of(client)
    runVerdicts(chain.map((fn) => () => fn(info, packet as unknown as InboundPublish)))
      .then((verdict) => {
        if (verdict === 'allow') callback(null)
        else if (verdict === 'deny') callback(new Error(`publish to ${packet.topic} not authorized`))
        else callback(defaultPublishVerdict(client, packet.topic))
      }, (err: Error) => { log.error({ err }, 'authorizePublish hook failed'); callback(err) })
  }

  aedes.authorizeSubscribe = (client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void) => {
    // aedes's own filter check misses e.g. `a#` and `+a`; a malformed filter is a protocol error.
    const invalid = filterError(sub.topic)
    if (invalid !== undefined) return callback(new Error(`invalid topic filter "${sub.topic}": ${invalid}`))
    if (denySubscribe.length > 0 && denySubscribe.some((deny) => topicMatches(deny, sub.topic))) return callback(null, null)
    if (sub.qos > maxQos) sub.qos = maxQos
    const chain = hooks.chain('authorizeSubscribe')
    if (chain.length === 0) return callback(null, sub)
    const info = clients.of(client)
    let request: SubscriptionRequest = { topic: sub.topic, qos: sub.qos as QoS }
    const steps = chain.map((fn) => async (): Promise<Verdict> => {
      const answer = await fn(info, request)
      if (typeof answer === 'object') {
        request = answer.rewrite
        return 'defer'
      }
      return answer
    })
    runVerdicts(steps).then((verdict) => {
      if (verdict === 'deny') return callback(null, null)
      callback(null, { ...sub, topic: request.topic, qos: Math.min(request.qos, maxQos) as QoS })
    }, (err: Error) => { log.error({ err }, 'authorizeSubscribe hook failed'); callback(null, null) })
  }

  aedes.authorizeForward = (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null => {
    let out = downgradeToGrantedQos(client, packet)
    const chain = hooks.chain('authorizeForward')
    if (chain.length === 0) return out
    const info = clients.of(client)
    for (const fn of chain) {
      const answer = fn(info, out as unknown as OutboundPublish)
      if (answer === null) return null
      if (answer !== undefined) out = answer as unknown as AedesPublishPacket
    }
    return out
  }

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

/**
 * aedes downgrades to the granted QoS only when the subscription filter equals
 * the topic, so a wildcard QoS 1 subscriber receives QoS 2 messages at QoS 2.
 * [MQTT-3.8.4-6] the delivered QoS is the minimum of published and granted;
 * with overlapping subscriptions the maximum grant applies [MQTT-3.3.5-1].
 */
function downgradeToGrantedQos (client: Client, packet: AedesPublishPacket): AedesPublishPacket {
  if (packet.qos === 0) return packet
  const subs = (client as unknown as { subscriptions: ClientSubscriptions }).subscriptions
  if (subs[packet.topic] !== undefined) return packet
  let granted = -1
  for (const filter in subs) {
    const qos = subs[filter]?.qos ?? 0
    if (qos > granted && topicMatches(filter, packet.topic)) granted = qos
    if (granted >= packet.qos) return packet
  }
  if (granted < 0 || granted >= packet.qos) return packet
  return { ...packet, qos: granted as QoS } as AedesPublishPacket
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
