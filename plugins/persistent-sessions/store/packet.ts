import { createRequire } from 'node:module'
import packetModule from 'aedes-packet'
import type { BrokerRef, StoredPacket } from './types.js'

/**
 * aedes-packet's `Packet`: the copy aedes-persistence makes of every packet it
 * queues. Its typings declare a namespace while the module exports the
 * constructor itself, hence the cast.
 */
export const Packet = packetModule as unknown as new (original: StoredPacket, broker?: BrokerRef) => StoredPacket

interface QlobberTrueLike {
  add(topic: string): void
  test(topic: string): boolean
}

const require = createRequire(import.meta.url)
// qlobber is CommonJS without types; QlobberTrue is the set-of-filters it offers.
const { QlobberTrue } = require('qlobber') as { QlobberTrue: new (options: object) => QlobberTrueLike }

/** A matcher for one MQTT topic filter. */
export function filterMatcher (pattern: string): (topic: string) => boolean {
  const q = new QlobberTrue({ wildcard_one: '+', wildcard_some: '#', separator: '/' })
  q.add(pattern)
  return (topic) => q.test(topic)
}
