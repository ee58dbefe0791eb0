import type { SysMetricSpec } from './sys-metric.js'

/**
 * Names and `$SYS` topics of the figures that plugins other than `sys` own,
 * agreed in one place so `/metrics` and `$SYS` stay stable whoever computes
 * them. The owner spreads an entry into `defineSysMetric` and adds `read`
 * (or updates the metric with `inc`/`set`):
 *
 * ```ts
 * defineSysMetric(broker.metrics, { ...SYS_METRICS.groupMembers, read: () => groups.memberCounts() })
 * ```
 *
 * Entries marked "default" are computed by the sys plugin from broker events
 * unless a plugin defines them during `register()` (a store knows better,
 * e.g. after a restart); the sys plugin fills in only the missing ones when
 * the broker starts.
 */
export const SYS_METRICS = {
  // ── Mosquitto names ────────────────────────────────────────────────────────
  /** default: persistent sessions whose client is away (from connect/disconnect events). */
  clientsDisconnected: { type: 'gauge', name: 'midge_clients_disconnected', help: 'Persistent sessions (clean session off) whose client is not connected.', sysTopic: 'clients/disconnected' },
  /** Incremented (`inc()`) by the session store when it expires a session. */
  clientsExpired: { type: 'counter', name: 'midge_clients_expired_total', help: 'Persistent sessions removed because they were not resumed in time.', sysTopic: 'clients/expired' },
  /** default: client subscriptions seen in SUBSCRIBE/UNSUBSCRIBE and session ends; the nedb store counts the persistent ones. */
  subscriptions: { type: 'gauge', name: 'midge_subscriptions', help: 'Client subscriptions, including those of disconnected persistent sessions.', sysTopic: 'subscriptions/count' },
  /** default: retained publishes seen since start. */
  retainedMessages: { type: 'gauge', name: 'midge_retained_messages', help: 'Retained messages held by the broker.', sysTopic: 'retained messages/count' },
  /** default: the retained messages (the only stored messages midge sees without a store that reports). */
  storeMessages: { type: 'gauge', name: 'midge_store_messages', help: 'Messages held in the store: retained and queued.', sysTopic: () => ['store/messages/count', 'messages/stored'] },
  /** default: payload bytes of the retained messages. */
  storeMessageBytes: { type: 'gauge', name: 'midge_store_message_bytes', help: 'Payload bytes of the messages held in the store.', sysTopic: 'store/messages/bytes' },

  // ── midge's own, under $SYS/broker/midge/ ──────────────────────────────────
  /** Counted by `sys` from `drop` events. */
  deadLetters: { type: 'counter', name: 'midge_dead_letters_total', help: 'Messages dropped instead of delivered, by reason.', labelNames: ['reason'], sysTopic: 'midge/dead_letters/<reason>' },
  /** Owner: persistent sessions. Sum over all session queues. */
  sessionQueued: { type: 'gauge', name: 'midge_session_queued_messages', help: 'Messages waiting in persistent session queues, all sessions.', sysTopic: 'midge/sessions/queued' },
  /** Owner: persistent sessions. Consumer lag: age of the oldest waiting message, 0 when none waits. */
  sessionOldestAge: { type: 'gauge', name: 'midge_session_oldest_queued_age_seconds', help: 'Age of the oldest message waiting in any session queue.', sysTopic: 'midge/sessions/oldest_age' },
  /** Owner: priority delivery (inflight window). Also under Mosquitto's `messages/inflight`. */
  inflight: { type: 'gauge', name: 'midge_inflight_messages', help: 'QoS 1/2 messages sent and not yet acknowledged.', sysTopic: () => ['midge/inflight', 'messages/inflight'] },
  /** Owner: queue groups. */
  groupMembers: { type: 'gauge', name: 'midge_group_members', help: 'Online members per queue group.', labelNames: ['group'], sysTopic: 'midge/groups/<group>/members' },
  /** Owner: queue groups. */
  groupQueued: { type: 'gauge', name: 'midge_group_queued_messages', help: 'Messages waiting in each group queue.', labelNames: ['group'], sysTopic: 'midge/groups/<group>/queued' },
  /** Owner: queue groups. Lag of each group. */
  groupOldestAge: { type: 'gauge', name: 'midge_group_oldest_queued_age_seconds', help: 'Age of the oldest message waiting in each group queue.', labelNames: ['group'], sysTopic: 'midge/groups/<group>/oldest_age' },
  /** Owner: queue groups. */
  groupDelivered: { type: 'counter', name: 'midge_group_delivered_total', help: 'Messages handed to a member, per queue group.', labelNames: ['group'], sysTopic: 'midge/groups/<group>/delivered' },
  /** Owner: the session store. 1 while it takes writes, 0 while they fail (full disk, Redis away). */
  storeUp: { type: 'gauge', name: 'midge_store_up', help: 'Whether the session store takes writes now (1) or they fail (0).', sysTopic: 'midge/store/up' },
  /** Owner: the session store. Size of its files on disk. */
  storeBytes: { type: 'gauge', name: 'midge_store_bytes', help: 'Size of the session store on disk.', sysTopic: 'midge/store/bytes' },
  /** Owner: the session store. Appends still work; the file grows until a compaction does. */
  storeCompactionsFailed: { type: 'counter', name: 'midge_store_compactions_failed_total', help: 'Session store compactions that failed (the file keeps growing until one works).', sysTopic: 'midge/store/compactions_failed' },
} as const satisfies Record<string, SysMetricSpec<string>>
