import { z } from 'zod'
import { topicFilterSchema } from './topic-filter.js'

/** Protocol behaviour beyond what the spec fixes. */
export const mqttSchema = z.strictObject({
  /**
   * Topic filters no client may subscribe to: the SUBACK carries 0x80 for them.
   * Matching is on the filter text; wildcards in the deny list match like topics.
   */
  denySubscribe: z.array(topicFilterSchema).default([]),
  /** Highest QoS granted on SUBSCRIBE (requests above it are downgraded). */
  maxQos: z.literal([0, 1, 2]).default(2),
  /**
   * Unacknowledged QoS 1/2 deliveries per client (Mosquitto's `max_inflight_messages`);
   * further messages wait in the session queue, highest priority first.
   */
  maxInflight: z.number().int().min(1).max(65535).default(20),
}).prefault({})
