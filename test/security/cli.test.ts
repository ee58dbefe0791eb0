import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parsePasswordFile } from '../../src/security/password-file.js'
import { verifyPassword } from '../../src/security/scrypt.js'
import { MIDGE_BIN, spawnMidge } from '../helpers/cli.js'
import { connectClient, nextMessage } from '../helpers/clients.js'
import { connackCode, tempDir, writeAclFile, writePasswordFile } from './support.js'

/** Run `midge passwd …`; resolves with the exit code and stderr. */
function passwd (args: string[], stdin?: string): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [MIDGE_BIN, 'passwd', ...args], { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdin.end(stdin ?? '')
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })))
}

async function passwordOf (file: string, user: string, candidate: string): Promise<boolean> {
  const hash = parsePasswordFile(readFileSync(file, 'utf8')).get(user)
  return hash !== undefined && await verifyPassword(candidate, hash)
}

describe('midge passwd', () => {
  test('adds with --password or a line on stdin, updates in place, deletes with -D', async () => {
    const file = join(tempDir(), 'passwd')
    expect((await passwd([file, 'alice', '--password', 'one', '--cost', '1024'])).code).toBe(0)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect((await passwd([file, 'bob', '--cost', '1024'], 'two\n')).code).toBe(0)
    expect(await passwordOf(file, 'alice', 'one')).toBe(true)
    expect(await passwordOf(file, 'bob', 'two')).toBe(true)
    expect(readFileSync(file, 'utf8')).toMatch(/^alice:\$scrypt\$N=1024,r=8,p=1\$/)

    expect((await passwd([file, 'alice', '--cost', '1024'], 'three\n')).code).toBe(0)
    expect(await passwordOf(file, 'alice', 'three')).toBe(true)
    expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/^alice:/) // same line

    expect((await passwd(['-D', file, 'alice'])).code).toBe(0)
    expect([...parsePasswordFile(readFileSync(file, 'utf8')).keys()]).toEqual(['bob'])
  })

  test('refuses bad input with a reason: unknown user on -D, ":" or a leading "#" in a name, empty password, bad cost', async () => {
    const file = join(tempDir(), 'passwd')
    expect(await passwd(['-D', file, 'nobody'])).toMatchObject({ code: 1, stderr: expect.stringContaining('not in') })
    expect(await passwd([file, 'a:b', '--password', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('":"') })
    // the file would read its line as a comment: a user that could never log in
    expect(await passwd([file, '#ops', '--password', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('"#"') })
    expect(await passwd([file, 'alice'], '\n')).toMatchObject({ code: 2, stderr: expect.stringContaining('empty password') })
    expect(await passwd([file, 'alice', '--password', 'x', '--cost', '1000'])).toMatchObject({ code: 2, stderr: expect.stringContaining('power of two') })
    expect(existsSync(file)).toBe(false)
  })

  test.skipIf(!existsSync('/usr/bin/script'))('prompts twice without echo on a TTY', async () => {
    const file = join(tempDir(), 'passwd')
    // util-linux `script` gives the child a pseudo-terminal.
    const child = spawn('/usr/bin/script', ['-qec', `${process.execPath} ${MIDGE_BIN} passwd ${file} alice --cost 1024`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    const waitFor = (text: string): Promise<void> => new Promise((resolve) => {
      const check = (): void => { if (out.includes(text)) { child.stdout.off('data', onData); resolve() } }
      const onData = (chunk: Buffer): void => { out += chunk.toString(); check() }
      child.stdout.on('data', onData)
      check()
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    await waitFor('Password: ')
    child.stdin.write('hidden-pw\r')
    await waitFor('Reenter password: ')
    child.stdin.write('hidden-pw\r')
    await waitFor('added user')
    child.stdin.end()
    await exited
    expect(out).not.toContain('hidden-pw')
    expect(await passwordOf(file, 'alice', 'hidden-pw')).toBe(true)
  })
})

describe('SIGHUP', () => {
  test('reloads the password and ACL files without dropping connections', async () => {
    const dir = tempDir()
    const passwordFile = await writePasswordFile(dir, { alice: 'old' })
    const aclFile = writeAclFile(dir, ['user alice', 'topic readwrite a/#'])
    const config = join(dir, 'midge.json')
    writeFileSync(config, JSON.stringify({
      dataDir: join(dir, 'data'),
      listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }],
      sessions: { store: 'memory' },
      security: { allowAnonymous: false, passwordFile, aclFile },
    }))
    const midge = spawnMidge(['--config', config])
    const urls = await midge.ready
    const alice = await connectClient(urls.mqtt!, { username: 'alice', password: 'old' })
    await alice.subscribeAsync('a/#')

    await writePasswordFile(dir, { alice: 'new' })
    writeAclFile(dir, ['user alice', 'topic readwrite a/#', 'topic readwrite b/#'])
    const reloaded = new Promise<void>((resolve) => {
      let out = ''
      midge.child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('security files reloaded')) resolve()
      })
    })
    midge.child.kill('SIGHUP')
    await reloaded

    await alice.subscribeAsync('b/#') // refused before the reload
    const got = nextMessage(alice, 'b/x')
    await alice.publishAsync('b/x', 'granted by the new ACL', { qos: 1 })
    await got
    expect(alice.connected).toBe(true)
    expect(await connackCode(urls.mqtt!, { username: 'alice', password: Buffer.from('old') })).toBe(4)
    expect(await connackCode(urls.mqtt!, { username: 'alice', password: Buffer.from('new') })).toBe(0)
    expect(midge.child.exitCode).toBeNull()
  })
})
