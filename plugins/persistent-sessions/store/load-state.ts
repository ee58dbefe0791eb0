import type { Logger } from 'pino'
import type { StoreDoc } from './codec.js'
import type { Datafile } from './datafile.js'
import { StoreCorruptError } from './errors.js'
import { lineOfDocument } from './integrity.js'
import { restoreState, UnreadableRecord } from './restore.js'
import type { SessionState } from './session-state.js'
import type { WriteBatcher } from './write-batcher.js'

/** What bringing the loaded datafile into the store's memory needs. */
export interface LoadContext {
  file: Datafile
  state: SessionState
  batch: WriteBatcher<StoreDoc>
  now: () => number
  log: Logger
  /** When the start began (Date.now()), for the log line. */
  started: number
}

/**
 * Fills `state` from the datafile's documents and tidies the file: records
 * made obsolete are removed (then the file is compacted again), sessions with
 * no last-seen time count as offline from now, and every queue is brought
 * within `maxQueued`. A document that is not a midge record fails the start,
 * naming its line. Returns the highest write number in the file.
 */
export async function loadState (docs: readonly StoreDoc[], ctx: LoadContext): Promise<number> {
  const { file, state, batch, log } = ctx
  const restored = await restore(docs, ctx)
  for (const id of restored.obsolete) batch.del(id)
  // Sessions the file has no last-seen time for were online at the stop: count from now.
  for (const clientId of restored.unseen) state.markOffline(clientId, ctx.now())
  for (const clientId of state.queues.keys()) state.enforceBound(clientId)
  await batch.commit()
  // nedb compacted while loading; compact again if the cleanup above appended removals.
  if (restored.obsolete.length > 0) await file.compact()
  log.info({ file: file.filename, ms: Date.now() - ctx.started, ...restored.counts, obsolete: restored.obsolete.length }, 'session store loaded')
  // midge writes a body before the entries that point at it and removes it after them: only damage leaves these
  if (restored.counts.orphans > 0) log.warn({ file: file.filename, orphans: restored.counts.orphans }, 'session store: dropped queue entries whose message body is not in the file (the file was damaged)')
  return restored.lastWrite
}

async function restore (docs: readonly StoreDoc[], ctx: LoadContext): Promise<ReturnType<typeof restoreState>> {
  try {
    return restoreState(docs, ctx.state, ctx.now())
  } catch (err) {
    const filename = ctx.file.filename
    if (!(err instanceof UnreadableRecord) || filename === undefined) throw err
    const line = await lineOfDocument(filename, err.docId).catch(() => undefined)
    throw new StoreCorruptError(filename, line ?? 0, `record ${JSON.stringify(err.docId)} is not one midge can read (${err.message})`, { cause: err })
  }
}
