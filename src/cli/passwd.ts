import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import type { ReadStream } from 'node:tty'
import { parsePasswordFile, setPasswordLine, usernameError } from '../security/password-file.js'
import { DEFAULT_SCRYPT_PARAMS, hashPassword, scryptParamsError } from '../security/scrypt.js'

/** `midge passwd` options. */
export interface PasswdOptions {
  /** Remove the user instead of setting a password. */
  delete?: boolean
  /** The password (scripts); otherwise prompted on a TTY or read from stdin. */
  password?: string
  /** scrypt N (a power of two); default {@link DEFAULT_SCRYPT_PARAMS}. */
  cost?: number
}

/** Where `midge passwd` reads and talks; injectable for tests. */
export interface PasswdIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream
}

/** Exit codes: 0 done, 1 failed (file, user not found), 2 bad arguments. */
export const PASSWD_OK = 0
export const PASSWD_FAILED = 1
export const PASSWD_USAGE = 2

/**
 * `midge passwd FILE USER`: add or update USER with an scrypt hash (prompting
 * twice without echo on a TTY, else reading one line from stdin, or taking
 * `--password`); `-D` deletes USER. The file is created with mode 0600 if
 * missing and replaced atomically (write + rename), other lines kept.
 */
export async function runPasswd (file: string, user: string, options: PasswdOptions, io: PasswdIo = { stdin: process.stdin, stderr: process.stderr }): Promise<number> {
  const fail = (code: number, message: string): number => {
    io.stderr.write(`midge passwd: ${message}\n`)
    return code
  }
  const badUser = usernameError(user)
  if (badUser !== undefined) return fail(PASSWD_USAGE, badUser)
  const params = { ...DEFAULT_SCRYPT_PARAMS, ...(options.cost !== undefined ? { N: options.cost } : {}) }
  const badCost = scryptParamsError(params)
  if (badCost !== undefined) return fail(PASSWD_USAGE, `--cost: ${badCost}`)

  let text = ''
  let mode = 0o600
  try {
    text = await readFile(file, 'utf8')
    mode = (await stat(file)).mode & 0o777
    parsePasswordFile(text, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return fail(PASSWD_FAILED, (err as Error).message)
  }

  let hash: string | null = null
  if (options.delete !== true) {
    let password: string
    try {
      password = options.password ?? await readPassword(io)
    } catch (err) {
      return fail(PASSWD_FAILED, (err as Error).message)
    }
    if (password === '') return fail(PASSWD_USAGE, 'empty password')
    hash = await hashPassword(password, params)
  }
  const updated = setPasswordLine(text, user, hash)
  if (hash === null && !updated.existed) return fail(PASSWD_FAILED, `user "${user}" is not in ${file}`)

  const temp = `${file}.${process.pid}.tmp`
  try {
    await writeFile(temp, updated.text, { mode })
    await rename(temp, file)
  } catch (err) {
    await unlink(temp).catch(() => {})
    return fail(PASSWD_FAILED, `cannot write ${file}: ${(err as Error).message}`)
  }
  io.stderr.write(`${hash === null ? 'deleted' : updated.existed ? 'updated' : 'added'} user "${user}" in ${file}\n`)
  return PASSWD_OK
}

async function readPassword (io: PasswdIo): Promise<string> {
  const stdin = io.stdin as ReadStream
  if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    const first = await promptHidden('Password: ', stdin, io.stderr)
    const second = await promptHidden('Reenter password: ', stdin, io.stderr)
    if (first !== second) throw new Error('passwords do not match')
    return first
  }
  // Scripts: the first line of stdin.
  let data = ''
  for await (const chunk of io.stdin) {
    data += chunk.toString()
    if (data.includes('\n')) break
  }
  return data.split(/\r?\n/)[0] ?? ''
}

/** Read a line from a TTY in raw mode, echoing nothing. Ctrl-C / Ctrl-D abort. */
function promptHidden (question: string, input: ReadStream, output: NodeJS.WritableStream): Promise<string> {
  // Echo off before the prompt shows: typing ahead must not be echoed either.
  input.setRawMode(true)
  output.write(question)
  return new Promise((resolve, reject) => {
    let value = ''
    const done = (error?: Error): void => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
      error === undefined ? resolve(value) : reject(error)
    }
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('aborted'))
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else if (ch >= ' ') value += ch
      }
    }
    input.resume()
    input.on('data', onData)
  })
}
