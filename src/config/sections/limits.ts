import { z } from 'zod'

/** Resource limits; see also the security plugin for rates. */
export const limitsSchema = z.strictObject({
  /** Total concurrent connections across listeners; 0 = unlimited. */
  maxConnections: z.number().int().min(0).default(0),
  /** Largest MQTT packet accepted, in bytes (MQTT allows 268,435,455). */
  maxPacketSize: z.number().int().min(64).max(268_435_455).default(268_435_455),
  /** Longest client id accepted (the spec guarantees 23; most clients use more). */
  maxClientIdLength: z.number().int().min(1).max(65535).default(256),
  /** Most topic levels in a topic or filter (aedes caps this at 100). */
  maxTopicLevels: z.number().int().min(1).max(100).default(100),
  /** Close a connection that sends no CONNECT within this time. */
  connectTimeoutMs: z.number().int().min(100).default(30_000),
  /** Largest keepalive a client may ask for, in seconds; 0 = any. */
  keepaliveLimit: z.number().int().min(0).max(65535).default(0),
  /** Close a subscriber whose socket stays full this long, in ms; 0 = never. */
  drainTimeoutMs: z.number().int().min(0).default(60_000),
}).prefault({})
