import { describe, expect, test } from 'vitest'
import { topicMatches } from '../../src/core/topic.js'

/** The definition, level by level (MQTT 3.1.1 §4.7), as plainly as it can be written. */
function reference (filter: string, topic: string): boolean {
  if ((filter.startsWith('+') || filter.startsWith('#')) && topic.startsWith('$')) return false // [MQTT-4.7.2-1]
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true // matches the parent level too [MQTT-4.7.1-2]
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

/** Every string of length 0..max over `alphabet`. */
function strings (alphabet: string, max: number): string[] {
  let level = ['']
  const all = ['']
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c))
    all.push(...level)
  }
  return all
}

describe('topicMatches', () => {
  test('agrees with the level-by-level definition on every short filter and topic', () => {
    const filters = strings('ab/+#$', 4)
    const topics = strings('ab/$', 5)
    let checked = 0
    for (const filter of filters) {
      for (const topic of topics) {
        if (topicMatches(filter, topic) !== reference(filter, topic)) {
          expect({ filter, topic, matches: topicMatches(filter, topic) }).toEqual({ filter, topic, matches: reference(filter, topic) })
        }
        checked++
      }
    }
    expect(checked).toBeGreaterThan(1_000_000)
  })

  test.each([
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/#', 'sport/tennis/player1/ranking', true],
    ['sport/+', 'sport/', true],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/broker', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['longer/level', 'longer/levels', false],
  ])('%s vs %s → %s (spec examples, §4.7)', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected)
  })
})
