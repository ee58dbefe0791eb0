import { readFile } from 'node:fs/promises'
import { filterError } from '../core/topic.js'
import { SecurityFileError } from './password-file.js'

/**
 * The ACL file, in Mosquitto's syntax:
 *
 * ```
 * # rules before any `user` line apply to anonymous clients
 * topic read public/#
 * user alice
 * topic readwrite alice/#
 * topic deny alice/secret/#
 * pattern readwrite devices/%c/#      # every client; %c = client id, %u = username
 * ```
 *
 * `topic [read|write|readwrite|deny] FILTER` (no access word = readwrite) adds
 * a rule to the current `user` block; `pattern` rules apply to every client.
 * The filter is the rest of the line, so it may contain spaces.
 */

/** What a rule grants, or `deny` to forbid reading and writing. */
export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny'

/** One `topic` or `pattern` line. */
export interface AclRule {
  readonly access: AclAccess
  readonly filter: string
  /** 1-based line number, for messages. */
  readonly line: number
}

/** A parsed ACL file. */
export interface AclRules {
  /** `topic` lines before the first `user` line: they apply to clients without a username. */
  readonly anonymous: readonly AclRule[]
  /** `topic` lines per `user` block (repeated blocks for one user are merged). */
  readonly users: ReadonlyMap<string, readonly AclRule[]>
  /** `pattern` lines, with `%u` / `%c` still in them. */
  readonly patterns: readonly AclRule[]
}

const ACCESS_WORDS: ReadonlySet<string> = new Set<AclAccess>(['read', 'write', 'readwrite', 'deny'])

/** Parse ACL text; throws `SecurityFileError` naming the first bad line. */
export function parseAcl (text: string, file = 'ACL file'): AclRules {
  const anonymous: AclRule[] = []
  const users = new Map<string, AclRule[]>()
  const patterns: AclRule[] = []
  let current = anonymous
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const text = (lines[i] as string).trim()
    if (text === '' || text.startsWith('#')) continue
    const [keyword = '', rest = ''] = splitFirst(text)
    switch (keyword) {
      case 'user': {
        if (rest === '') throw new SecurityFileError(file, line, '"user" needs a username')
        current = users.get(rest) ?? []
        users.set(rest, current)
        break
      }
      case 'topic':
      case 'pattern': {
        const rule = parseRule(rest, line, file, keyword === 'pattern')
        if (keyword === 'pattern') patterns.push(rule)
        else current.push(rule)
        break
      }
      default:
        throw new SecurityFileError(file, line, `unknown keyword "${keyword}" (expected user, topic or pattern)`)
    }
  }
  return { anonymous, users, patterns }
}

/** Read and parse an ACL file. */
export async function readAclFile (path: string): Promise<AclRules> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new SecurityFileError(path, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return parseAcl(text, path)
}

function parseRule (rest: string, line: number, file: string, isPattern: boolean): AclRule {
  const [first = '', afterFirst = ''] = splitFirst(rest)
  // As Mosquitto: an access word followed by a filter, or a bare filter (readwrite).
  const explicit = ACCESS_WORDS.has(first) && afterFirst !== ''
  const access = explicit ? first as AclAccess : 'readwrite'
  const filter = explicit ? afterFirst : rest
  if (filter === '') throw new SecurityFileError(file, line, `"${isPattern ? 'pattern' : 'topic'}" needs a topic filter`)
  // Substitutions are checked as a plain level would be.
  const invalid = filterError(isPattern ? filter.replace(/%[uc]/g, 'x') : filter)
  if (invalid !== undefined) throw new SecurityFileError(file, line, `bad topic filter "${filter}": ${invalid}`)
  return { access, filter, line }
}

function splitFirst (text: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(text)
  return m === null ? ['', ''] : [m[1] as string, (m[2] as string).trim()]
}
