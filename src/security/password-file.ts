import { readFile } from 'node:fs/promises'
import { parseHash, type ScryptHash } from './scrypt.js'

/**
 * The password file: one `user:hash` line per user (`#` comments and blank
 * lines allowed), as Mosquitto's, with scrypt hashes. The username is
 * everything before the first `:`, so usernames cannot contain one.
 */

/** Users and their parsed hashes. */
export type PasswordTable = ReadonlyMap<string, ScryptHash>

/** A line of a password or ACL file that cannot be used. */
export class SecurityFileError extends Error {
  readonly file: string
  readonly line: number

  constructor (file: string, line: number, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`)
    this.name = 'SecurityFileError'
    this.file = file
    this.line = line
  }
}

/** Why `user` cannot be a password-file username, or undefined. */
export function usernameError (user: string): string | undefined {
  if (user.length === 0) return 'username is empty'
  if (user.includes(':')) return 'username contains ":"'
  if (/[\r\n]/.test(user)) return 'username contains a line break'
  if (user.trim() !== user) return 'username starts or ends with white space'
  if (user.startsWith('#')) return 'username starts with "#" (the file reads such a line as a comment)'
  return undefined
}

/** Parse the file's text; throws `SecurityFileError` naming the first bad line. */
export function parsePasswordFile (text: string, file = 'password file'): PasswordTable {
  const table = new Map<string, ScryptHash>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new SecurityFileError(file, i + 1, 'expected user:hash')
    const user = line.slice(0, colon)
    if (table.has(user)) throw new SecurityFileError(file, i + 1, `user "${user}" appears twice`)
    try {
      table.set(user, parseHash(line.slice(colon + 1)))
    } catch (err) {
      throw new SecurityFileError(file, i + 1, `user "${user}": ${(err as Error).message}`)
    }
  }
  return table
}

/** Read and parse a password file. */
export async function readPasswordFile (path: string): Promise<PasswordTable> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new SecurityFileError(path, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parsePasswordFile(text, path)
}

/**
 * The file's text with `user` set to `hash` (replaced in place, or appended),
 * or removed when `hash` is null. Other lines, comments included, are kept.
 * Returns whether the user was there before.
 */
export function setPasswordLine (text: string, user: string, hash: string | null): { text: string, existed: boolean } {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/)
  const index = lines.findIndex((l) => l.trim().startsWith(`${user}:`))
  const existed = index >= 0
  if (hash === null) {
    if (existed) lines.splice(index, 1)
  } else if (existed) {
    lines[index] = `${user}:${hash}`
  } else {
    lines.push(`${user}:${hash}`)
  }
  return { text: lines.length === 0 ? '' : lines.join('\n') + '\n', existed }
}
