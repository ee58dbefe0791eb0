import mqtt from 'mqtt'
import { describe, expect, test } from 'vitest'
import { Authenticator } from '../../src/security/authenticator.js'
import { parsePasswordFile } from '../../src/security/password-file.js'
import { hashPassword } from '../../src/security/scrypt.js'
import type { ClientInfo } from '../../src/core/message.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { connackCode, tempDir, TEST_SCRYPT, writePasswordFile } from './support.js'
import { captureLog } from '../helpers/log-capture.js'

describe('authentication', () => {
  test('by default anonymous clients and any username are accepted (Mosquitto 2 on loopback)', async () => {
    const broker = await startBroker()
    expect(await connackCode(broker.mqttUrl)).toBe(0)
    expect(await connackCode(broker.mqttUrl, { username: 'anyone', password: Buffer.from('x') })).toBe(0)
  })

  test('with a password file and allowAnonymous false: right 0, wrong 4, unknown user 4, none 5', async () => {
    const passwordFile = await writePasswordFile(tempDir(), { alice: 'wonderland', bob: 'builder' })
    const broker = await startBroker({ security: { allowAnonymous: false, passwordFile } })
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('wonderland') })).toBe(0)
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('builder') })).toBe(4)
    expect(await connackCode(broker.mqttUrl, { username: 'mallory', password: Buffer.from('wonderland') })).toBe(4)
    expect(await connackCode(broker.mqttUrl, { username: 'alice' })).toBe(4)
    expect(await connackCode(broker.mqttUrl)).toBe(5)
    // the cached verification is still checked against the password
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('wonderland') })).toBe(0)
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('wonderlanD') })).toBe(4)
  })

  test('MQTT.js over WebSocket: refused with code 4, then accepted and working', async () => {
    const passwordFile = await writePasswordFile(tempDir(), { alice: 'wonderland' })
    const broker = await startBroker({ security: { allowAnonymous: false, passwordFile } })
    await expect(mqtt.connectAsync(broker.wsUrl, { username: 'alice', password: 'nope', reconnectPeriod: 0 })).rejects.toMatchObject({ code: 4 })
    const client = await connectClient(broker.wsUrl, { username: 'alice', password: 'wonderland' })
    await client.subscribeAsync('t')
    const got = nextMessage(client)
    await client.publishAsync('t', 'ok')
    expect((await got).payload.toString()).toBe('ok')
  })

  test('allowAnonymous true with a password file: no username is fine, a wrong password is not', async () => {
    const passwordFile = await writePasswordFile(tempDir(), { alice: 'wonderland' })
    const broker = await startBroker({ security: { passwordFile } })
    expect(await connackCode(broker.mqttUrl)).toBe(0)
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('x') })).toBe(4)
  })

  test('allowAnonymous false without a password file refuses everyone with 5', async () => {
    const broker = await startBroker({ security: { allowAnonymous: false } })
    expect(await connackCode(broker.mqttUrl)).toBe(5)
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('x') })).toBe(5)
  })

  test('a malformed password file stops the broker from starting, naming the line', async () => {
    const dir = tempDir()
    const passwordFile = await writePasswordFile(dir, { alice: 'x' })
    const { appendFileSync } = await import('node:fs')
    appendFileSync(passwordFile, 'bob:plaintext\n')
    await expect(startBroker({ security: { passwordFile } })).rejects.toThrow(/security\.passwordFile: .*passwd:2: user "bob"/)
    await expect(startBroker({ security: { passwordFile: `${dir}/missing` } })).rejects.toThrow(/cannot read: ENOENT/)
  })

  test('a login flood is bounded: past the waiting limit CONNECTs get 3 (server unavailable), cached logins still pass', async () => {
    const table = parsePasswordFile(`alice:${await hashPassword('right', TEST_SCRYPT)}\n`)
    const auth = new Authenticator({ allowAnonymous: false, useCertificateAsUsername: false, maxWaiting: 4 }, table)
    const client = { id: 'c', username: undefined, clean: true, remoteAddress: undefined, listener: 'test' } satisfies ClientInfo
    expect(await auth.authenticate(client, 'alice', Buffer.from('right'))).toBe('defer') // now cached
    const flood = await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(client, 'mallory', Buffer.from('guess'))))
    expect(flood.filter((v) => typeof v === 'object' && v.deny === 3)).toHaveLength(4) // 2 hashing + 4 waiting; 4 turned away
    expect(flood.filter((v) => typeof v === 'object' && v.deny === 4)).toHaveLength(6)
    const during = Array.from({ length: 8 }, () => auth.authenticate(client, 'mallory', Buffer.from('guess')))
    expect(await auth.authenticate(client, 'alice', Buffer.from('right'))).toBe('defer')
    await Promise.all(during)
  })

  test('unknown users cost a full scrypt too (dummy hash), so timing does not reveal them', async () => {
    // Default cost, where a skipped hash would be obvious (~0 ms against tens of ms).
    const table = parsePasswordFile(`alice:${await hashPassword('right')}\n`)
    const auth = new Authenticator({ allowAnonymous: false, useCertificateAsUsername: false }, table)
    const client = { id: 'c', username: undefined, clean: true, remoteAddress: undefined, listener: 'test' } satisfies ClientInfo
    const time = async (user: string): Promise<number> => {
      const samples: number[] = []
      for (let i = 0; i < 3; i++) {
        const started = performance.now()
        expect(await auth.authenticate(client, user, Buffer.from('wrong'))).toEqual({ deny: 4 })
        samples.push(performance.now() - started)
      }
      return samples.sort((a, b) => a - b)[1] as number
    }
    const known = await time('alice')
    const unknown = await time('nobody')
    expect(unknown).toBeGreaterThan(known * 0.3)
    expect(unknown).toBeLessThan(known * 3)
  })
})

describe('refusals are logged for the operator', () => {
  test('a refused CONNECT logs client id, username, address and code at info; never the password', async () => {
    const passwordFile = await writePasswordFile(tempDir(), { alice: 'wonderland' })
    const capture = captureLog()
    const broker = await startBroker({ logLevel: 'info', security: { allowAnonymous: false, passwordFile } }, { logger: capture.log })
    expect(await connackCode(broker.mqttUrl, { clientId: 'dev-17', username: 'alice', password: Buffer.from('s3cret-guess') })).toBe(4)
    const line = await capture.waitFor('connection refused')
    expect(line).toMatchObject({ level: 30, clientId: 'dev-17', username: 'alice', remoteAddress: '127.0.0.1', listener: 'mqtt', returnCode: 4, msg: 'connection refused: bad user name or password' })
    expect(await connackCode(broker.mqttUrl, { clientId: 'anon-1' })).toBe(5)
    expect(await capture.waitFor('connection refused: not authorized', (l) => l.clientId === 'anon-1')).toMatchObject({ returnCode: 5 })
    expect(JSON.stringify(capture.lines)).not.toContain('s3cret-guess')
  })
})
