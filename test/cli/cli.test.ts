import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { spawnMidge } from '../helpers/cli.js'

function tempConfig (config: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'midge-cli-'))
  const file = join(dir, 'midge.json')
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), ...config as object }))
  return file
}

const loopback = [
  { type: 'mqtt', host: '127.0.0.1', port: 0 },
  { type: 'ws', host: '127.0.0.1', port: 0 },
  { type: 'http', host: '127.0.0.1', port: 0 },
]

describe('midge CLI', () => {
  test('serves MQTT over TCP and WebSocket, answers /health, and exits 0 on SIGTERM', async () => {
    const midge = spawnMidge(['--config', tempConfig({ listeners: loopback })], { expectListeners: 3 })
    const urls = await midge.ready
    const sub = await connectClient(urls.ws!)
    await sub.subscribeAsync('cli/#', { qos: 1 })
    const pub = await connectClient(urls.mqtt!)
    const got = nextMessage(sub)
    await pub.publishAsync('cli/smoke', 'hi', { qos: 1 })
    expect((await got).payload.toString()).toBe('hi')
    const health = await fetch(`${urls.http!}/health`)
    expect(health.status).toBe(200)
    expect(((await health.json()) as { status: string }).status).toBe('ok')
    expect((await fetch(`${urls.http!}/ready`)).status).toBe(200)

    const started = Date.now()
    midge.child.kill('SIGTERM')
    const exit = await midge.exited
    expect(exit.code).toBe(0)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  test('signals while the broker starts: SIGHUP is ignored, SIGTERM stops it once up, exit 0', async () => {
    // The store loads before the listeners bind: the signals arrive while createBroker runs.
    const midge = spawnMidge(['--config', tempConfig({ listeners: loopback.slice(0, 1) }), '--log-level', 'info'])
    await midge.waitForLog((entry) => entry.plugin === 'persistent-sessions')
    midge.child.kill('SIGHUP')
    midge.child.kill('SIGTERM')
    const exit = await midge.exited
    expect(exit).toMatchObject({ code: 0, signal: null })
    expect(midge.logLines.some((entry) => entry.msg === 'shutting down')).toBe(true)
  })

  test('--http-port and MIDGE_HTTP_PORT set the http listener', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const taken = (blocker.address() as { port: number }).port
    try {
      // The env var alone would collide; the flag wins over it.
      const midge = spawnMidge(['--config', tempConfig({ listeners: loopback }), '--http-port', '0'], { expectListeners: 3, env: { MIDGE_HTTP_PORT: String(taken) } })
      const urls = await midge.ready
      expect(urls.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(urls.http).not.toContain(`:${taken}`)
      const collides = await spawnMidge(['--config', tempConfig({ listeners: loopback })], { env: { MIDGE_HTTP_PORT: String(taken) } }).exited
      expect(collides.code).toBe(1)
      expect(collides.stderr).toContain(`port ${taken}`)
    } finally {
      blocker.close()
    }
  })

  test('--port and --ws-port override the config file', async () => {
    const midge = spawnMidge(['--config', tempConfig({ listeners: loopback.slice(0, 2) }), '--port', '0', '--ws-port', '0', '--log-level', 'info'], { expectListeners: 2 })
    const urls = await midge.ready
    expect(urls.mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/)
    expect(urls.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)
  })

  test('a bad config exits 2 and names every bad key path', async () => {
    const midge = spawnMidge(['--config', tempConfig({ listeners: [{ type: 'mqtt', port: 'abc' }], limits: { nope: 1 } })])
    const exit = await midge.exited
    expect(exit.code).toBe(2)
    expect(exit.stderr).toContain('listeners[0].port')
    expect(exit.stderr).toContain('limits.nope: unknown key')
  })

  test('a bad flag, flag value or MIDGE_* value exits 2 with a one-line reason', async () => {
    const badValue = await spawnMidge(['--port', 'seventy']).exited
    expect(badValue.code).toBe(2)
    expect(badValue.stderr).toMatch(/port number/)
    const unknown = await spawnMidge(['--bogus']).exited
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown option '--bogus'")
    const env = await spawnMidge([], { env: { MIDGE_PORT: 'abc' } }).exited
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('MIDGE_PORT: expected a port number')
  })

  test('an unreadable ACL file is a bad config: exit 2, the key named', async () => {
    const exit = await spawnMidge(['--config', tempConfig({ listeners: loopback.slice(0, 1), security: { aclFile: '/nonexistent/acl' } })]).exited
    expect(exit.code).toBe(2)
    expect(exit.stderr).toContain('security.aclFile')
  })

  test('a port in use is a one-line error and exit code 1, not a stack trace', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as { port: number }).port
    try {
      const exit = await spawnMidge(['--config', tempConfig({ listeners: [{ type: 'mqtt', host: '127.0.0.1', port }] })]).exited
      expect(exit.code).toBe(1)
      expect(exit.stderr.trim().split('\n')).toHaveLength(1)
      expect(exit.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`)
    } finally {
      blocker.close()
    }
  })

  test('a corrupt store file is one line with its code, the file and the line, and exit code 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'midge-cli-data-'))
    writeFileSync(join(dataDir, 'sessions.db'), '{"_id":"a","t":"s","c":"x"}\nnot json at all\n{"_id":"b","t":"s","c":"y"}\n')
    const exit = await spawnMidge(['--config', tempConfig({ listeners: loopback.slice(0, 1) }), '--data-dir', dataDir]).exited
    expect(exit.code).toBe(1)
    expect(exit.stderr.trim().split('\n')).toHaveLength(1)
    expect(exit.stderr).toMatch(/^midge: ERR_STORE_CORRUPT: session store .*sessions\.db is corrupt at line 2/)
  })

  test('--help lists the flags and every config key with its default', async () => {
    const midge = spawnMidge(['--help'])
    let out = ''
    midge.child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
    const exit = await midge.exited
    expect(exit.code).toBe(0)
    expect(out).toContain('--config <file>')
    expect(out).toContain('sessions.maxQueued = ')
    expect(out).toContain('limits.maxPacketSize = ')
    // keys without a default are listed too
    expect(out).toContain('security.passwordFile (unset)')
    expect(out).toContain('cluster.redis (unset)')
  })
})
