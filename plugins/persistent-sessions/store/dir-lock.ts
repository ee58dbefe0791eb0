import { mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { StoreUnavailableError } from './errors.js'

/** Lock files this process holds: a second broker of the same process is refused too. */
const held = new Set<string>()

/**
 * One broker per datafile. Two brokers on one data directory (two processes,
 * or two embedded brokers of one gateway) each kept their own view in memory
 * and appended to one file; the first compaction then rewrote it with one
 * view, and the other broker's sessions and retained messages were gone.
 *
 * The lock is `<file>.lock` holding the owner's pid, created exclusively. A
 * lock whose process is gone (a crash, `kill -9`) is taken over; so is one
 * naming this very pid that this process does not hold (a container restarted
 * with the same pid). Returns the release function.
 */
export async function lockDatafile (filename: string): Promise<() => Promise<void>> {
  const path = `${filename}.lock`
  if (held.has(path)) throw inUse(filename, path, process.pid)
  await mkdir(dirname(filename), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx')
      await handle.writeFile(`${process.pid}\n`)
      await handle.close()
      held.add(path)
      return async () => {
        held.delete(path)
        await unlink(path).catch(() => {})
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) throw inUse(filename, path, owner)
    // stale: its process is gone
    await writeFile(path, '').catch(() => {})
    await unlink(path).catch(() => {})
  }
  throw inUse(filename, path, undefined)
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

function inUse (filename: string, path: string, pid: number | undefined): StoreUnavailableError {
  const who = pid === process.pid ? 'another broker in this process' : pid !== undefined ? `process ${pid}` : 'another broker'
  return new StoreUnavailableError(`session store ${filename} is in use by ${who} (lock ${path}): two brokers must not share a data directory`)
}
