import { describe, expect, test } from 'vitest'
import { logDrops } from '../../src/core/drop-log.js'
import { BrokerEvents } from '../../src/core/events.js'
import { captureLog } from '../helpers/log-capture.js'

describe('dropped messages in the log', () => {
  test('one warn line per client and reason per interval, with the drops counted in between', () => {
    const events = new BrokerEvents()
    const capture = captureLog()
    let now = 0
    logDrops(events, capture.log, 60_000, () => now)
    const drop = (clientId: string, reason: 'queue_full' | 'expired' = 'queue_full'): void => {
      events.emit('drop', { reason, clientId, message: { topic: 't', payload: Buffer.from('secret'), qos: 1, retain: false }, at: now })
    }
    for (let i = 0; i < 500; i++) drop('stuck')
    drop('other')
    drop('stuck', 'expired')
    now = 60_000
    drop('stuck')
    const lines = capture.lines.filter((l) => String(l.msg).startsWith('message dropped'))
    expect(lines.map((l) => [l.level, l.clientId, l.reason, l.droppedSinceLastLine])).toEqual([
      [40, 'stuck', 'queue_full', 0],
      [40, 'other', 'queue_full', 0],
      [40, 'stuck', 'expired', 0],
      [40, 'stuck', 'queue_full', 499],
    ])
    expect(JSON.stringify(capture.lines)).not.toContain('secret')
  })
})
