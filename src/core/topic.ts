/**
 * Topic helpers used where aedes offers none: matching a filter against a
 * topic outside the emitter, and validating filters per MQTT 3.1.1 §4.7.
 */

const PLUS = 43
const HASH = 35
const DOLLAR = 36

/**
 * Does `filter` (with `+` / `#`) match `topic`? `$` topics never match a leading wildcard [MQTT-4.7.2-1].
 * It runs once per delivery (spec-forward.ts), so it walks both strings in place instead of splitting them.
 */
export function topicMatches (filter: string, topic: string): boolean {
  if (filter === topic) return true
  const first = filter.charCodeAt(0)
  if ((first === PLUS || first === HASH) && topic.charCodeAt(0) === DOLLAR) return false
  let f = 0 // start of the current filter level
  let t = 0 // start of the current topic level
  let topicLeft = true // the topic still has a level at `t`
  for (;;) {
    const fEnd = levelEnd(filter, f)
    const fLength = fEnd - f
    if (fLength === 1 && filter.charCodeAt(f) === HASH) return true // also matches the parent level [MQTT-4.7.1-2]
    if (!topicLeft) return false
    const tEnd = levelEnd(topic, t)
    if (fLength !== 1 || filter.charCodeAt(f) !== PLUS) {
      if (tEnd - t !== fLength) return false
      for (let i = 0; i < fLength; i++) if (filter.charCodeAt(f + i) !== topic.charCodeAt(t + i)) return false
    }
    if (fEnd === filter.length) return tEnd === topic.length
    f = fEnd + 1
    if (tEnd === topic.length) topicLeft = false
    else t = tEnd + 1
  }
}

/** Index of the `/` that ends the level starting at `from`, or the string's length. */
function levelEnd (s: string, from: number): number {
  const slash = s.indexOf('/', from)
  return slash < 0 ? s.length : slash
}

/**
 * Why a topic filter is malformed, or undefined if it is valid: `#` only as a
 * whole last level [MQTT-4.7.1-2], `+` only as a whole level [MQTT-4.7.1-3],
 * no NUL [MQTT-4.7.3-2], not empty [MQTT-4.7.3-1].
 */
export function filterError (filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter'
  if (filter.includes('\u0000')) return 'NUL character in topic filter'
  const invalid = mqttStringError(filter)
  if (invalid !== undefined) return `topic filter ${invalid}`
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be a whole last level'
    if (level.includes('+') && level !== '+') return '"+" must be a whole level'
  }
  return undefined
}

/** Why a topic name is not valid for PUBLISH, or undefined. */
export function topicNameError (topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic name'
  if (topic.includes('\u0000')) return 'NUL character in topic name'
  if (topic.includes('+') || topic.includes('#')) return 'wildcard in topic name'
  const invalid = mqttStringError(topic)
  return invalid === undefined ? undefined : `topic name ${invalid}`
}

/** An MQTT string is at most 65,535 bytes of UTF-8 [MQTT-1.5.3]. */
const MAX_STRING_BYTES = 65_535

/** `String.prototype.isWellFormed` (Node 20; TypeScript lists it from ES2024 on). */
const isWellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed

/**
 * What no MQTT string may be, for strings that did not come off the wire (the
 * API's): longer than its 16-bit length prefix counts, which a client then
 * fails to parse, or with a lone surrogate, which goes out as U+FFFD [MQTT-1.5.3-1].
 */
function mqttStringError (s: string): string | undefined {
  // a UTF-16 code unit is at most 3 bytes of UTF-8: only long strings need counting
  if (s.length > MAX_STRING_BYTES / 3 && Buffer.byteLength(s) > MAX_STRING_BYTES) return `longer than ${MAX_STRING_BYTES} bytes of UTF-8`
  if (!isWellFormed.call(s)) return 'with a lone UTF-16 surrogate (not encodable as UTF-8)'
  return undefined
}

/** A topic or filter for an error message: quoted, and cut to its first 100 characters. */
export function quoted (topic: unknown): string {
  if (typeof topic !== 'string') return String(topic)
  return JSON.stringify(topic.length > 100 ? `${topic.slice(0, 100)}…` : topic)
}
