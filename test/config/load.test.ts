import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { configDefaults } from '../../src/config/defaults.js'
import { loadConfig, validateConfig } from '../../src/config/load.js'
import { configSchema } from '../../src/config/schema.js'
import { ConfigError } from '../../src/errors.js'

function configFile (content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'midge-config-'))
  const file = join(dir, 'midge.json')
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

function issuesOf (run: () => unknown): Array<{ path: string, message: string }> {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return [...(err as ConfigError).issues]
  }
  throw new Error('expected a ConfigError')
}

describe('config', () => {
  test('config/default.json is exactly the schema defaults', () => {
    const file = JSON.parse(readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as unknown
    expect(file).toEqual(JSON.parse(JSON.stringify(configDefaults())))
  })

  test('defaults listen on loopback: MQTT 1883, WebSocket 8083 /mqtt, data in ./data', () => {
    const config = loadConfig()
    expect(config.dataDir).toBe('./data')
    expect(config.listeners).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'mqtt', host: '127.0.0.1', port: 1883 }),
      expect.objectContaining({ type: 'ws', host: '127.0.0.1', port: 8083, path: '/mqtt' }),
    ]))
  })

  test('the result is deep-frozen', () => {
    const config = loadConfig()
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.limits)).toBe(true)
    expect(Object.isFrozen(config.listeners[0])).toBe(true)
  })

  test('a file merges over defaults; env overrides the file; flags override env', () => {
    const file = configFile({ logLevel: 'warn', dataDir: '/from/file', limits: { maxConnections: 7 } })
    const config = loadConfig({ file, env: { MIDGE_DATA_DIR: '/from/env', MIDGE_PORT: '2000' }, overrides: { port: 3000 } })
    expect(config.logLevel).toBe('warn')
    expect(config.limits.maxConnections).toBe(7)
    expect(config.limits.maxPacketSize).toBe(configDefaults().limits.maxPacketSize)
    expect(config.dataDir).toBe('/from/env')
    expect(config.listeners.find((l) => l.type === 'mqtt')?.port).toBe(3000)
  })

  test('--host applies to every listener; --ws-port to the first ws listener', () => {
    const config = loadConfig({ overrides: { host: '0.0.0.0', wsPort: 9001 } })
    expect(config.listeners.every((l) => l.host === '0.0.0.0')).toBe(true)
    expect(config.listeners.find((l) => l.type === 'ws')?.port).toBe(9001)
  })

  test('every bad key path is reported at once, with what was expected', () => {
    const issues = issuesOf(() => validateConfig({
      listeners: [{ type: 'mqtt', port: 1883 }, { type: 'ws', port: 'abc' }],
      limits: { maxConnections: -1 },
      bogus: true,
    }))
    const paths = issues.map((i) => i.path)
    expect(paths).toContain('listeners[1].port')
    expect(paths).toContain('limits.maxConnections')
    expect(paths).toContain('bogus')
    expect(issues.find((i) => i.path === 'listeners[1].port')?.message).toMatch(/number.*got "abc"/)
    expect(issues.find((i) => i.path === 'bogus')?.message).toBe('unknown key')
  })

  test('an unknown nested key is named by its full path, each one', () => {
    const issues = issuesOf(() => validateConfig({ sessions: { maxQueue: 5, expiry: 1 } }))
    expect(issues).toEqual([{ path: 'sessions.maxQueue', message: 'unknown key' }, { path: 'sessions.expiry', message: 'unknown key' }])
  })

  test('an unknown listener type names the path, the types there are and the bad value alone', () => {
    const issues = issuesOf(() => validateConfig({ listeners: [{ type: 'udp', port: 1 }] }))
    expect(issues[0]?.path).toBe('listeners[0].type')
    expect(issues[0]?.message).toMatch(/'mqtt' \| 'mqtts' \| 'ws'/)
    expect(issues[0]?.message).toMatch(/got "udp"$/)
  })

  test('a TLS listener asking for client certificates without a ca is refused: Node would trust its public roots', () => {
    const tls = { port: 0, cert: 'c.pem', key: 'k.pem', requestCert: true }
    const issues = issuesOf(() => validateConfig({ listeners: [{ type: 'mqtts', ...tls }, { type: 'wss', ...tls }, { type: 'mqtts', ...tls, ca: 'ca.pem' }] }))
    expect(issues.map((i) => i.path)).toEqual(['listeners[0].ca', 'listeners[1].ca'])
    expect(issues[0]?.message).toBe('requestCert needs ca: the PEM file of the CA that signs client certificates, got nothing')
  })

  test('a bad environment variable is reported with every other bad key, not alone', () => {
    const file = configFile(JSON.stringify({ nope: 1 }))
    const issues = issuesOf(() => loadConfig({ file, env: { MIDGE_PORT: 'abc', MIDGE_LOG_LEVEL: 'loud', MIDGE_LOG_PRETTY: 'yes please' } }))
    expect(issues.map((i) => i.path).sort()).toEqual(['MIDGE_LOG_LEVEL', 'MIDGE_LOG_PRETTY', 'MIDGE_PORT', 'nope'])
    expect(issues.find((i) => i.path === 'MIDGE_LOG_LEVEL')?.message).toBe('expected one of fatal, error, warn, info, debug, trace, silent, got "loud"')
  })

  test('MIDGE_LOG_PRETTY takes yes/no words too', () => {
    expect(loadConfig({ env: { MIDGE_LOG_PRETTY: 'yes' } }).logPretty).toBe(true)
    expect(loadConfig({ env: { MIDGE_LOG_PRETTY: 'OFF' } }).logPretty).toBe(false)
  })

  test('mqtt.denySubscribe entries must be topic filters', () => {
    const issues = issuesOf(() => validateConfig({ mqtt: { denySubscribe: ['ok/#', 'a/#/b'] } }))
    expect(issues.map((i) => i.path)).toEqual(['mqtt.denySubscribe[1]'])
    expect(issues[0]?.message).toMatch(/^invalid topic filter: /)
  })

  test('sessions.store "redis" needs cluster.redis (it failed at start-up instead, with exit code 1)', () => {
    expect(issuesOf(() => validateConfig({ sessions: { store: 'redis' } })).map((i) => i.path)).toEqual(['cluster.redis'])
    // named with the other bad keys, and the exported schema keeps .pick() / .partial() (a refined one loses them)
    expect(issuesOf(() => validateConfig({ sessions: { store: 'redis' }, listeners: [{ type: 'mqtt', port: 'x' }] })).map((i) => i.path)).toEqual(['listeners[0].port', 'cluster.redis'])
    expect(() => configSchema.pick({ logLevel: true }).partial()).not.toThrow()
    expect(validateConfig({ sessions: { store: 'redis' }, cluster: { redis: 'redis://127.0.0.1:6379/0' } }).cluster.redis).toBe('redis://127.0.0.1:6379/0')
  })

  test('a value outside a fixed set names the set', () => {
    expect(issuesOf(() => validateConfig({ mqtt: { maxQos: 3 } }))).toEqual([{ path: 'mqtt.maxQos', message: 'Invalid option: expected one of 0|1|2, got 3' }])
  })

  test('cluster.redis must be a redis:// URL', () => {
    const issues = issuesOf(() => validateConfig({ cluster: { redis: 'notaurl' } }))
    expect(issues[0]).toEqual({ path: 'cluster.redis', message: 'expected a redis://host:port/db URL, got "notaurl"' })
    expect(() => validateConfig({ cluster: { redis: 'rediss://u:p@host:6380/2' } })).not.toThrow()
  })

  test('a file that is not JSON is a ConfigError naming the file', () => {
    const file = configFile('{ nope')
    const issues = issuesOf(() => loadConfig({ file }))
    expect(issues[0]?.message).toContain(file)
  })

  test('a missing file is a ConfigError naming the file', () => {
    const issues = issuesOf(() => loadConfig({ file: '/does/not/exist.json' }))
    expect(issues[0]?.message).toContain('/does/not/exist.json')
  })
})

test('every config key is documented in the README', async () => {
  const { describeDefaults } = await import('../../src/config/defaults.js')
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const keys = describeDefaults().map((line) => line.split(/ = | \(unset\)/)[0] as string).filter((key) => key !== 'listeners')
  expect(keys.filter((key) => !readme.includes(`\`${key}\``))).toEqual([])
})
