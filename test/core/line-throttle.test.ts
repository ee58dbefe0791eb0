import { expect, test } from 'vitest'
import { LineThrottle, reasonKind } from '../../src/core/line-throttle.js'

test('one line per key and interval; the next line counts the ones held back', () => {
  let now = 0
  const lines = new LineThrottle(1_000, () => now)
  expect(lines.pass('a')).toBe(0)
  expect(lines.pass('a')).toBeUndefined()
  expect(lines.pass('a')).toBeUndefined()
  expect(lines.pass('b')).toBe(0)
  now = 1_000
  expect(lines.pass('a')).toBe(2)
})

test('past maxKeys live keys, new keys share one: a flood of distinct keys is one line an interval', () => {
  let now = 0
  const lines = new LineThrottle(1_000, () => now, 3)
  for (const key of ['a', 'b', 'c']) expect(lines.pass(key)).toBe(0)
  expect(lines.pass('d')).toBe(0)
  for (let i = 0; i < 100; i++) expect(lines.pass(`e${i}`)).toBeUndefined()
  expect(lines.pass('a')).toBeUndefined() // a live key keeps its own count
  now = 1_000 // every key's interval is over: they are forgotten, and new keys get their own again
  expect(lines.pass('f')).toBe(0)
  expect(lines.pass('g')).toBe(0)
})

test('a reason kind is the spec statement it names, or the message with numbers masked', () => {
  expect(reasonKind('protocol violation: unsupported protocol MQXX level 9 [MQTT-3.1.2-2]')).toBe('[MQTT-3.1.2-2]')
  expect(reasonKind('protocol violation: 17 bytes after the last field of CONNECT [MQTT-3.1.4-1]')).toBe('[MQTT-3.1.4-1]')
  expect(reasonKind('Packet too short 12')).toBe('Packet too short #')
  expect(reasonKind('x'.repeat(500))).toHaveLength(80)
})
