import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, onTestFinished, test } from 'vitest'
import { createBroker } from '../../src/broker.js'
import { StoreUnavailableError } from '../../plugins/persistent-sessions/index.js'
import { tempDir } from './helpers.js'

/**
 * Two brokers on one data directory each kept their own view and appended to
 * one file; the first compaction rewrote it with one view and the other's
 * sessions were gone. The second one is refused now.
 */
const start = (dataDir: string) => createBroker({ logLevel: 'silent', dataDir, listeners: [{ type: 'mqtt', host: '127.0.0.1', port: 0 }], sys: { interval: 0 } })

describe('one broker per data directory', () => {
  test('a second broker in the same process is refused, naming the directory; free again once the first closes', async () => {
    const dataDir = tempDir()
    const first = await start(dataDir)
    onTestFinished(() => first.close())
    const err = await start(dataDir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StoreUnavailableError)
    expect(String((err as Error).message)).toContain(join(dataDir, 'sessions.db'))
    expect(String((err as Error).message)).toContain('in use by another broker in this process')
    await first.close()
    expect(existsSync(join(dataDir, 'sessions.db.lock'))).toBe(false)
    const again = await start(dataDir)
    await again.close()
  })

  test('two brokers started at once on one directory: exactly one runs', async () => {
    const dataDir = tempDir()
    const results = await Promise.allSettled([start(dataDir), start(dataDir)])
    const running = results.filter((r) => r.status === 'fulfilled')
    expect(running).toHaveLength(1)
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(StoreUnavailableError) })
    for (const r of running) await r.value.close()
  })

  test('a lock of another host is never taken over (its process cannot be checked)', async () => {
    const dataDir = tempDir()
    writeFileSync(join(dataDir, 'sessions.db.lock'), `${process.pid} some-other-host token\n`)
    const err = await start(dataDir).catch((e: unknown) => e)
    expect(String((err as Error).message)).toContain('on host some-other-host')
  })

  test('a live process\'s lock refuses; the lock of a process that is gone (kill -9) is taken over', async () => {
    const dataDir = tempDir()
    const lock = join(dataDir, 'sessions.db.lock')
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    onTestFinished(() => { sleeper.kill('SIGKILL') })
    await new Promise((resolve) => sleeper.once('spawn', resolve))
    writeFileSync(lock, `${sleeper.pid}\n`)
    const err = await start(dataDir).catch((e: unknown) => e)
    expect(String((err as Error).message)).toContain(`in use by process ${sleeper.pid}`)
    sleeper.kill('SIGKILL')
    await new Promise((resolve) => sleeper.once('exit', resolve))
    const broker = await start(dataDir)
    await broker.close()
  })

  describe('after a power cut, a lock naming a pid that is now another live process', () => {
    const linux = existsSync('/proc/sys/kernel/random/boot_id')
    const startOf = (pid: number): string => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? ''
    }
    const liveStranger = async (): Promise<number> => {
      const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
      onTestFinished(() => { sleeper.kill('SIGKILL') })
      await new Promise((resolve) => sleeper.once('spawn', resolve))
      return sleeper.pid ?? 0
    }
    const boot = linux ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : ''

    test.runIf(linux)('is taken over when it was written in an earlier boot', async () => {
      const dataDir = tempDir()
      const pid = await liveStranger()
      writeFileSync(join(dataDir, 'sessions.db.lock'), `${pid} ${hostname()} token 00000000-0000-0000-0000-000000000000 ${startOf(pid)}\n`)
      const broker = await start(dataDir)
      await broker.close()
    })

    test.runIf(linux)('is taken over when that pid started after the lock was written (reused)', async () => {
      const dataDir = tempDir()
      const pid = await liveStranger()
      writeFileSync(join(dataDir, 'sessions.db.lock'), `${pid} ${hostname()} token ${boot} 1\n`)
      const broker = await start(dataDir)
      await broker.close()
    })

    test.runIf(linux)('still refuses when boot and start time are that process\'s own', async () => {
      const dataDir = tempDir()
      const pid = await liveStranger()
      writeFileSync(join(dataDir, 'sessions.db.lock'), `${pid} ${hostname()} token ${boot} ${startOf(pid)}\n`)
      const err = await start(dataDir).catch((e: unknown) => e)
      expect(String((err as Error).message)).toContain(`in use by process ${pid}`)
    })

    test.runIf(linux)('a broker writes its boot id and start time into the lock', async () => {
      const dataDir = tempDir()
      const broker = await start(dataDir)
      onTestFinished(() => broker.close())
      const [pid, host, , lockBoot, lockStart] = readFileSync(join(dataDir, 'sessions.db.lock'), 'utf8').trim().split(' ')
      expect([pid, host, lockBoot, lockStart]).toEqual([String(process.pid), hostname(), boot, startOf(process.pid)])
    })
  })
})
