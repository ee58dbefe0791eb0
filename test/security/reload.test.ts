import { writeFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { reloadSecurity } from '../../src/security/reload.js'
import { startBroker } from '../helpers/broker.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { connackCode, tempDir, writeAclFile, writePasswordFile } from './support.js'

describe('reloading the password and ACL files', () => {
  test('new passwords and rules apply at once; connected clients stay connected', async () => {
    const dir = tempDir()
    const passwordFile = await writePasswordFile(dir, { alice: 'old', watcher: 'w' })
    const aclFile = writeAclFile(dir, ['user alice', 'topic readwrite a/#', 'user watcher', 'topic read a/#'])
    const broker = await startBroker({ security: { allowAnonymous: false, passwordFile, aclFile } })
    const alice = await connectClient(broker.mqttUrl, { username: 'alice', password: 'old' })
    const watcher = await connectClient(broker.mqttUrl, { username: 'watcher', password: 'w' })
    await watcher.subscribeAsync('a/#')
    const seen: string[] = []
    watcher.on('message', (topic) => { seen.push(topic) })
    let disconnects = 0
    broker.on('clientDisconnect', () => { disconnects++ })

    await writePasswordFile(dir, { alice: 'new', watcher: 'w' })
    writeAclFile(dir, ['user alice', 'topic readwrite a/#', 'user watcher', 'topic read a/#', 'topic deny a/private/#'])
    expect(await reloadSecurity(broker.id)).toEqual([{ brokerId: broker.id, ok: true }])

    // the existing subscription now withholds what the new ACL denies
    await alice.publishAsync('a/private/x', 'hidden', { qos: 1 })
    const sentinel = nextMessage(watcher, 'a/public')
    await alice.publishAsync('a/public', 'shown', { qos: 1 })
    await sentinel
    expect(seen).toEqual(['a/public'])
    expect(disconnects).toBe(0)
    expect(alice.connected && watcher.connected).toBe(true)

    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('old') })).toBe(4)
    expect(await connackCode(broker.mqttUrl, { username: 'alice', password: Buffer.from('new') })).toBe(0)
  })

  test('a broken file keeps the previous rules in force', async () => {
    const dir = tempDir()
    const passwordFile = await writePasswordFile(dir, { alice: 'pw' })
    const aclFile = writeAclFile(dir, ['user alice', 'topic readwrite a/#'])
    const broker = await startBroker({ security: { allowAnonymous: false, passwordFile, aclFile } })
    writeFileSync(aclFile, 'user alice\ntopic sometimes a/#/b\n')
    const [result] = await reloadSecurity(broker.id)
    expect(result?.ok).toBe(false)
    expect(result?.error?.message).toMatch(/acl:2: bad topic filter/)
    const alice = await connectClient(broker.mqttUrl, { username: 'alice', password: 'pw' })
    await alice.subscribeAsync('a/#')
    const got = nextMessage(alice)
    await alice.publishAsync('a/b', 'still allowed')
    expect((await got).payload.toString()).toBe('still allowed')
  })

  test('a closed broker is no longer reloaded', async () => {
    const broker = await startBroker()
    await broker.close()
    expect(await reloadSecurity(broker.id)).toEqual([])
  })
})
