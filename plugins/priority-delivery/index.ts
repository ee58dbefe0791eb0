import type { InboundPublish } from '../../src/core/hooks.js'
import { definePlugin } from '../../src/core/plugin-api.js'
import { defineSysMetric, SYS_METRICS } from '../../src/sys/index.js'
import { resolveOptions, type PriorityDeliveryInput } from './options.js'
import { stampedPriority, toMessage, type StampablePacket, type WindowPacket } from './packet.js'
import { decorateStore } from './persistence-decorator.js'
import { clampPriority } from './priority-queue.js'
import { PriorityRules, type Publisher } from './rules.js'
import { InflightWindows } from './window.js'

export { PriorityQueue, clampPriority, type HandOverMode } from './priority-queue.js'
export { PriorityRules, type Publisher } from './rules.js'
export { resolveOptions, DEFAULT_MAX_INFLIGHT, type PriorityDeliveryOptions, type PriorityDeliveryInput } from './options.js'

/**
 * Priority delivery with a per-client inflight window.
 *
 * **Window.** At most `mqtt.maxInflight` (default 20) QoS 1/2 deliveries per
 * connection are unacknowledged: QoS 1 until PUBACK, QoS 2 until PUBCOMP;
 * QoS 0 is neither counted nor held. Further messages wait — a clean
 * session's in memory, bounded by `sessions.maxQueued` (overflow: the lowest
 * priority, oldest one goes, reported as a `drop` with reason `queue_full`); a
 * persistent session's in the session store, which bounds and reports them
 * itself. A stalled consumer only fills its own window: its deliveries are
 * held without touching its socket, so nobody else waits on it.
 *
 * **Priority.** 0–9, 9 first: the first `priority.rules` entry whose filter
 * matches the topic and whose `clientId` / `username` (if set) are the
 * publisher's, else `priority.defaultPriority`. It rides in
 * `packet.properties.priority`, through the store and across restarts (MQTT
 * 3.1.1 clients never see it). Where it is set:
 * - at the store seam (`outgoingEnqueueCombi`), which aedes calls for every
 *   QoS > 0 publish before emitting it — client and broker publishes alike;
 *   rules naming a client id or username never match the broker's publishes;
 * - in `authorizePublish`, only when some rule names a client id or username
 *   (the publisher is known only there).
 * QoS 0 messages never wait, so they get none.
 *
 * **Hand-over.** Waiting messages — a reconnecting session's backlog, messages
 * behind a full window — go highest priority first, FIFO within one, one per
 * acknowledgement; in-flight messages are never pre-empted. `priority.mode:
 * "weighted"` shares hand-overs among waiting priorities in proportion to
 * `priority + 1` instead (see `PriorityQueue`).
 *
 * **Monitoring.** `midge_inflight_messages` (`$SYS/broker/messages/inflight`,
 * `$SYS/broker/midge/inflight`): QoS 1/2 deliveries not yet acknowledged,
 * over all open connections.
 *
 * Options: as `PriorityDeliveryInput`; by default the broker config.
 * Register it after any plugin whose `authorizeForward` hook may withhold a
 * message: the window counts what passes its own hook.
 */
export default definePlugin<PriorityDeliveryInput | undefined>({
  name: 'priority-delivery',
  register (broker, input) {
    const opts = resolveOptions(input, broker.config)
    const rules = new PriorityRules(opts.rules, opts.defaultPriority)
    const log = broker.log

    const stamp = (packet: StampablePacket, publisher?: Publisher): void => {
      if (stampedPriority(packet.properties) !== undefined) return
      packet.properties = { ...packet.properties, priority: rules.priorityOf(packet.topic, publisher) }
    }
    const priorityOf = (packet: WindowPacket): number => clampPriority(stampedPriority(packet.properties) ?? rules.priorityOf(packet.topic))

    const windows = new InflightWindows({
      maxInflight: opts.maxInflight,
      maxQueued: opts.maxQueued,
      mode: opts.mode,
      priorityOf,
      deliver: (client, packet) => broker.deliverTo(client, packet),
      onOverflow: (client, packet) => {
        const message = toMessage(packet)
        log.debug({ clientId: client.id, topic: message.topic, priority: message.properties?.priority }, 'waiting message dropped: queue full')
        broker.events.emit('drop', { reason: 'queue_full', clientId: client.id, message, at: Date.now() })
      },
      log,
    })

    defineSysMetric(broker.metrics, { ...SYS_METRICS.inflight, read: () => windows.inflight })

    if (rules.needsPublisher) {
      broker.hooks.add('authorizePublish', (client, packet: InboundPublish) => {
        if (packet.qos > 0) stamp(packet, { clientId: client?.id, username: client?.username })
        return 'defer'
      })
    }
    broker.hooks.add('authorizeForward', (client, packet) => windows.forward(client, packet as WindowPacket))
    broker.events.on('ack', (message, client) => windows.acknowledged(client, message as WindowPacket | undefined))
    broker.events.on('clientReady', (client) => windows.ready(client))
    broker.events.on('clientDisconnect', (client) => windows.closed(client))
    // The session store's own overflow (persistent sessions): a dropped message must not be handed over.
    broker.events.on('drop', (event) => {
      if (event.reason === 'queue_full' && event.clientId !== undefined) windows.storeDropped(event.clientId, event.message.properties)
    })
    broker.decoratePersistence((store) => decorateStore(store, { windows, clientOf: (ref) => broker.clientOf(ref), stamp }))
    log.debug({ maxInflight: opts.maxInflight, mode: opts.mode, rules: opts.rules.length, defaultPriority: opts.defaultPriority }, 'priority delivery ready')
  },
})
