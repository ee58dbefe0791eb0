/**
 * Topic helpers used where aedes offers none: matching a filter against a
 * topic outside the emitter, and validating filters per MQTT 3.1.1 §4.7.
 */

/** Does `filter` (with `+` / `#`) match `topic`? `$` topics never match a leading wildcard [MQTT-4.7.2-1]. */
export function topicMatches (filter: string, topic: string): boolean {
  if (filter === topic) return true
  const leadingWildcard = filter.charCodeAt(0) === 43 /* + */ || filter.charCodeAt(0) === 35 /* # */
  if (leadingWildcard && topic.charCodeAt(0) === 36 /* $ */) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const level = f[i]
    if (level === '#') return true // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.length) return false
    if (level !== '+' && level !== t[i]) return false
  }
  return f.length === t.length
}

/**
 * Why a topic filter is malformed, or undefined if it is valid: `#` only as a
 * whole last level [MQTT-4.7.1-2], `+` only as a whole level [MQTT-4.7.1-3],
 * no NUL [MQTT-4.7.3-2], not empty [MQTT-4.7.3-1].
 */
export function filterError (filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter'
  if (filter.includes('\u0000')) return 'NUL character in topic filter'
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
  return undefined
}
