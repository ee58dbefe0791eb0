import { z } from 'zod'

/** The largest packet MQTT 3.1.1 can express: a 4-byte remaining length [MQTT-2.2.3]. */
export const MQTT_MAX_PACKET_SIZE = 268_435_455

/**
 * Resource limits. Every default leaves a normal deployment unchanged: caps and
 * rates are 0 (off), sizes are the protocol's own maxima, and only a
 * subscriber that has stopped reading meets `slowConsumerMs`. Limits that must act
 * before aedes parses anything (packet size, publish rate, connection rate)
 * are enforced at the socket by `src/listeners`; the rest by aedes and the core.
 */
export const limitsSchema = z.strictObject({
  /** Total concurrent connections across listeners; 0 = unlimited (see also each listener's `maxConnections`). */
  maxConnections: z.number().int().min(0).default(0),
  /**
   * Largest MQTT packet accepted, in bytes, fixed header included. A client
   * that announces a bigger one is disconnected before the body is buffered.
   * The default is MQTT's own maximum (no extra check).
   */
  maxPacketSize: z.number().int().min(64).max(MQTT_MAX_PACKET_SIZE).default(MQTT_MAX_PACKET_SIZE),
  /** Longest client id accepted (the spec guarantees 23; most clients use more). */
  maxClientIdLength: z.number().int().min(1).max(65535).default(256),
  /**
   * Most topic levels in a topic or filter (aedes caps this at 100). aedes
   * applies it to the broker's own publishes too, and `$SYS/broker/load/…/1min`
   * has 6 levels: below that, those figures would silently stop.
   */
  maxTopicLevels: z.number().int().min(6, 'at least 6: the broker\'s own $SYS topics have up to 6 levels').max(100).default(100),
  /** Close a connection that sends no CONNECT within this time (also bounds the TLS handshake). */
  connectTimeoutMs: z.number().int().min(100).default(30_000),
  /** Largest keepalive a client may ask for, in seconds; 0 = any. */
  keepaliveLimit: z.number().int().min(0).max(65535).default(0),
  /** Close a subscriber whose socket stays full this long, in ms; 0 = never. */
  drainTimeoutMs: z.number().int().min(0).default(60_000),
  /**
   * A client whose output has made no progress for this long, in ms, while
   * deliveries wait on it is stalled: they stop waiting, and live QoS 0
   * messages to it are dropped (reported, reason `slow_consumer`) until it drains
   * (src/core/slow-consumers.ts). 0 = every publisher to its topics waits
   * for it, up to `drainTimeoutMs`, as in aedes.
   */
  slowConsumerMs: z.number().int().min(0).default(2_000),
  /**
   * PUBLISH packets per second per connection (token bucket, burst = one
   * second's worth). Over it the broker stops reading that socket until the
   * bucket refills: TCP backpressure slows the publisher, nothing is dropped. 0 = off.
   */
  publishRate: z.number().min(0).default(0),
  /** PUBLISH bytes per second per connection (whole packets), same throttling; 0 = off. */
  publishBytesRate: z.number().int().min(0).default(0),
  /**
   * Disconnect a client that stays throttled this long, in ms: throttled again
   * less than a second after each pause ends. 0 = never (throttle only).
   */
  throttleDisconnectMs: z.number().int().min(0).default(0),
  /** New connections per second accepted from one IP address (token bucket); 0 = off. */
  connectionRatePerIp: z.number().min(0).default(0),
  /** Connections one IP address may open in a burst; 0 = one second's worth of `connectionRatePerIp`. */
  connectionBurstPerIp: z.number().int().min(0).default(0),
}).prefault({})

/** The validated `limits` section. */
export type LimitsConfig = z.output<typeof limitsSchema>
