import { createReadStream } from 'node:fs'
import { access, open, truncate } from 'node:fs/promises'
import { StoreCorruptError } from './errors.js'

/**
 * Checks an nedb datafile before nedb loads it.
 *
 * nedb's own check (`corruptAlertThreshold`) only says what share of lines is
 * bad, not which; and with its default of 10% it silently drops the bad lines.
 * midge sets the threshold to 0 and runs this first, so that:
 *
 * - a bad line in the middle (followed by more data) fails loudly, naming the
 *   file and the 1-based line: that is damage, not a crash;
 * - an unterminated last line that does not parse is the tail of an append cut
 *   short by a crash (`kill -9`, power loss). Its write never completed, so no
 *   caller was told it was stored: it is cut off (the file is truncated to the
 *   end of the last good line) and reported, and the store starts.
 */

/** What the check found. */
export interface IntegrityReport {
  /** The file checked (the datafile, or nedb's `~` copy when only that exists). */
  file: string
  /** Lines with a document. */
  documents: number
  /** Set when a torn last line was cut off. */
  tornTail?: { line: number, bytes: number }
}

/**
 * The cheap check done at every start: only the last line is read, and only
 * when the file does not end with a newline (nedb ends every append with
 * one). An unterminated last line that is not a document is a torn append:
 * cut off and reported, as {@link checkDatafile} would. Damage further up is
 * left to the load (see {@link looksLikeDocument}), which then runs the full
 * scan to name the line; nedb rewrites the file only after a clean load. Returns the file checked, or undefined if none.
 */
export async function cutTornTail (filename: string): Promise<{ file: string, tornTail?: { line: number, bytes: number } } | undefined> {
  const file = await exists(filename) ? filename : await exists(filename + '~') ? filename + '~' : undefined
  if (file === undefined) return undefined
  const handle = await open(file, 'r+')
  try {
    const size = (await handle.stat()).size
    if (size === 0) return { file }
    const last = Buffer.alloc(1)
    await handle.read(last, 0, 1, size - 1)
    if (last[0] === 0x0a) return { file }
    // read back to the previous newline, in chunks (a line may hold a large payload)
    const chunks: Buffer[] = []
    let start = size
    let lineStart = -1
    while (start > 0 && lineStart < 0) {
      const length = Math.min(64 * 1024, start)
      start -= length
      const chunk = Buffer.alloc(length)
      await handle.read(chunk, 0, length, start)
      chunks.unshift(chunk)
      const nl = chunk.lastIndexOf(0x0a)
      if (nl >= 0) lineStart = start + nl + 1
    }
    if (lineStart < 0) lineStart = 0
    const tail = Buffer.concat(chunks).subarray(lineStart - start)
    if (badDocument(tail.toString('utf8')) === undefined) return { file }
    await handle.truncate(lineStart)
    // line number for the report: count the lines before it (rare path: only after a crash)
    return { file, tornTail: { line: await countLines(file) + 1, bytes: tail.length } }
  } finally {
    await handle.close()
  }
}

/**
 * Per-line guard for nedb's load hook. nedb skips, without a word, valid
 * JSON that is not a document (`42`, `{}`): damage all the same. Every line
 * midge writes starts `{"_id":` (or `{"$$` for nedb's own records), so the
 * guard costs a prefix test; anything else is parsed to decide.
 */
export function looksLikeDocument (line: string): boolean {
  if (line === '') return true
  if ((line.startsWith('{"_id":') || line.startsWith('{"$$')) && line.charCodeAt(line.length - 1) === 0x7d) return true
  return badDocument(line) === undefined
}

async function countLines (file: string): Promise<number> {
  let n = 0
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++
  }
  return n
}

/**
 * Scans `filename` line by line. Throws `StoreCorruptError` on a bad line that
 * is not the torn tail; truncates a torn tail. A missing file is fine (a new store).
 */
export async function checkDatafile (filename: string): Promise<IntegrityReport | undefined> {
  // nedb rewrites through `<file>~` and renames; if only the copy exists, that is what it will load.
  const file = await exists(filename) ? filename : await exists(filename + '~') ? filename + '~' : undefined
  if (file === undefined) return undefined

  const report: IntegrityReport = { file, documents: 0 }
  let line = 0
  let offset = 0 // bytes before the current (unfinished) line
  let partial: Buffer[] = []
  let partialLength = 0

  const check = (bytes: Buffer, terminated: boolean): void => {
    line++
    if (bytes.length === 0) return
    const reason = badDocument(bytes.toString('utf8'))
    if (reason === undefined) {
      report.documents++
      return
    }
    if (!terminated) {
      report.tornTail = { line, bytes: bytes.length }
      return
    }
    throw new StoreCorruptError(file, line, reason)
  }

  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0
    let nl = chunk.indexOf(0x0a, start)
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl)
      const bytes = partialLength === 0 ? piece : Buffer.concat([...partial, piece])
      check(bytes, true)
      offset += bytes.length + 1
      partial = []
      partialLength = 0
      start = nl + 1
      nl = chunk.indexOf(0x0a, start)
    }
    if (start < chunk.length) {
      partial.push(chunk.subarray(start))
      partialLength += chunk.length - start
    }
  }
  if (partialLength > 0) check(Buffer.concat(partial), false)
  if (report.tornTail !== undefined) await truncate(file, offset)
  return report
}

/** The 1-based line of the last version of document `id` in `filename` (the one nedb loaded), if any. */
export async function lineOfDocument (filename: string, id: string): Promise<number | undefined> {
  const needle = Buffer.from(`"_id":${JSON.stringify(id)}`)
  let line = 0
  let found: number | undefined
  let carry: Buffer = Buffer.alloc(0)
  for await (const chunk of createReadStream(filename) as AsyncIterable<Buffer>) {
    const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
    let start = 0
    let nl = data.indexOf(0x0a, start)
    while (nl !== -1) {
      line++
      if (data.subarray(start, nl).includes(needle)) found = line
      start = nl + 1
      nl = data.indexOf(0x0a, start)
    }
    carry = data.subarray(start)
  }
  if (carry.length > 0 && carry.includes(needle)) found = line + 1
  return found
}

/** Why a line is not an nedb document, or undefined if it is one. */
function badDocument (text: string): string | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    // Not the parser's message: it quotes the line, and lines hold payloads.
    return 'not valid JSON'
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'not a document'
  const d = doc as Record<string, unknown>
  if (d._id === undefined && d.$$indexCreated === undefined && d.$$indexRemoved === undefined) return 'a document without _id'
  return undefined
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
