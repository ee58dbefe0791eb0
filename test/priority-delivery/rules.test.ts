import { describe, expect, test } from 'vitest'
import { prioritySchema } from '../../src/config/sections/priority.js'
import { PriorityRules } from '../../plugins/priority-delivery/rules.js'
import { resolveOptions } from '../../plugins/priority-delivery/options.js'
import { validateConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'

describe('priority rules', () => {
  const rules = new PriorityRules([
    { filter: 'plant/+/alarm', clientId: 'plc-1', priority: 9 },
    { filter: 'plant/#', username: 'ops', priority: 7 },
    { filter: 'plant/+/alarm', priority: 6 },
    { filter: 'plant/#', priority: 3 },
  ], 4)

  test('first match wins: topic filter with wildcards, then publisher client id / username', () => {
    expect(rules.priorityOf('plant/a/alarm', { clientId: 'plc-1' })).toBe(9)
    expect(rules.priorityOf('plant/a/alarm', { clientId: 'plc-2', username: 'ops' })).toBe(7)
    expect(rules.priorityOf('plant/a/alarm', { clientId: 'plc-2' })).toBe(6)
    expect(rules.priorityOf('plant/a/temp', { clientId: 'plc-1' })).toBe(3)
    expect(rules.priorityOf('office/a', { clientId: 'plc-1' })).toBe(4)
  })

  test('the broker\'s own publishes match only rules without a client id or username', () => {
    expect(rules.priorityOf('plant/a/alarm')).toBe(6)
    expect(rules.priorityOf('plant/a/alarm')).toBe(6) // cached
    expect(rules.priorityOf('elsewhere')).toBe(4)
    expect(rules.needsPublisher).toBe(true)
    expect(new PriorityRules([{ filter: '#', priority: 1 }], 4).needsPublisher).toBe(false)
  })

  test('`#` does not match `$` topics [MQTT-4.7.2-1]', () => {
    expect(new PriorityRules([{ filter: '#', priority: 9 }], 2).priorityOf('$SYS/x')).toBe(2)
  })
})

describe('priority config', () => {
  test('defaults: priority 4, no rules, strict; window 20', () => {
    expect(prioritySchema.parse(undefined)).toEqual({ defaultPriority: 4, rules: [], mode: 'strict' })
    const opts = resolveOptions(undefined, validateConfig({}))
    expect(opts).toMatchObject({ defaultPriority: 4, rules: [], mode: 'strict', maxInflight: 20, maxQueued: 10_000 })
  })

  test('bad values name their key', () => {
    const config = validateConfig({})
    const bad = (input: object): ConfigError => {
      try {
        resolveOptions(input, config)
      } catch (err) {
        return err as ConfigError
      }
      throw new Error('accepted')
    }
    expect(bad({ rules: [{ filter: 'a/#/b', priority: 1 }] }).path).toBe('priority.rules.0.filter')
    expect(bad({ rules: [{ filter: 'a', priority: 10 }] }).path).toBe('priority.rules.0.priority')
    expect(bad({ mode: 'fair' }).path).toBe('priority.mode')
    expect(bad({ maxInflight: 0 }).path).toBe('mqtt.maxInflight')
    expect(bad({ maxInflight: 0 })).toBeInstanceOf(ConfigError)
  })
})
