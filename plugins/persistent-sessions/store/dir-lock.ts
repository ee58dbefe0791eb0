import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { StoreUnavailableError } from './errors.js'

/** Lock files this process holds or is taking: a second broker of the same process is refused too. */
const held = new Set<string>()

/**
 * One broker per datafile. Two brokers on one data directory (two processes,
 * or two embedded brokers of one gateway) each kept their own view in memory
 * and appended to one file; the first compaction then rewrote it with one
 * view, and the other broker's sessions and retained messages were gone.
 *
 * The lock is `<file>.lock` holding `pid host token boot start`. It is
 * created whole (written aside, then hard-linked into place), so it is never
 * seen empty. A lock is taken over when its process is gone (a crash,
 * `kill -9`) or names this pid on this host without this process holding it
 * (a container restarted with the same pid). A pid alone is not enough after
 * a power cut: at the next boot that pid may be another, live process, and a
 * gateway's broker would refuse to start until someone deleted the lock. So
 * on Linux the lock also carries the boot id and the process's start time,
 * and a lock of an earlier boot, or of a pid since reused, is stale. A lock
 * of another host is never taken over, as its process cannot be checked. A
 * takeover renames a fresh lock over the old one and reads it back: of two
 * brokers taking over at once, one wins. Returns the release function.
 */
export async function lockDatafile (filename: string): Promise<() => Promise<void>> {
  const path = `${filename}.lock`
  if (held.has(path)) throw inUse(filename, path, `another broker in this process`)
  held.add(path)
  const token = `${process.pid} ${hostname()} ${randomUUID()} ${bootId() ?? '-'} ${startTime(process.pid) ?? '-'}\n`
  const aside = `${path}.${randomUUID()}`
  try {
    await mkdir(dirname(filename), { recursive: true })
    await writeFile(aside, token)
    try {
      await link(aside, path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = await readFile(path, 'utf8').catch(() => '')
      const blocker = liveOwner(owner)
      if (blocker !== undefined) throw inUse(filename, path, blocker)
      await rename(aside, path)
      const now = await readFile(path, 'utf8').catch(() => '')
      if (now !== token) throw inUse(filename, path, liveOwner(now) ?? 'another broker starting at the same time')
    }
  } catch (err) {
    held.delete(path)
    throw err
  } finally {
    await unlink(aside).catch(() => {})
  }
  return async () => {
    held.delete(path)
    // only our own lock: never one a later broker took over
    if (await readFile(path, 'utf8').catch(() => '') === token) await unlink(path).catch(() => {})
  }
}

/** Who holds a lock with this content, or undefined if nobody does any more. */
function liveOwner (content: string): string | undefined {
  const [pidText, host, , boot, start] = content.trim().split(' ')
  const pid = Number.parseInt(pidText ?? '', 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  if (host !== undefined && host !== hostname()) return `process ${pid} on host ${host} (delete the lock if that broker is gone)`
  if (pid === process.pid) return undefined
  if (!isAlive(pid)) return undefined
  // Written before this boot, or by an earlier process of that pid: nobody holds it. ('-': not known there.)
  const ours = bootId()
  if (boot !== undefined && boot !== '-' && ours !== undefined && boot !== ours) return undefined
  if (start !== undefined && start !== '-') {
    const now = startTime(pid)
    if (now !== undefined && now !== start) return undefined
  }
  return `process ${pid}`
}

/** This boot's id (Linux), undefined elsewhere. */
function bootId (): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return undefined
  }
}

/** When `pid` started, in clock ticks since boot (Linux `/proc/<pid>/stat` field 22), undefined elsewhere. */
function startTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may hold spaces and parentheses: count from its closing one
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, owned by another user
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function inUse (filename: string, path: string, who: string): StoreUnavailableError {
  return new StoreUnavailableError(`session store ${filename} is in use by ${who} (lock ${path}): two brokers must not share a data directory`)
}
