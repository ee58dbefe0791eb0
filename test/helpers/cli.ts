import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'

/** The built CLI; the test command builds before running vitest. */
export const MIDGE_BIN = fileURLToPath(new URL('../../dist/bin/midge.js', import.meta.url))

export interface MidgeProcess {
  child: ChildProcess
  /** Listener name → URL, once every listener logged `listening`. */
  ready: Promise<Record<string, string>>
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>
  logLines: Array<Record<string, unknown>>
  /** The first log line (already logged or to come) that `match` accepts. */
  waitForLog: (match: (entry: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>
}

/**
 * Run `midge` as a child process. `ready` resolves once `expectListeners`
 * listeners have logged their bound URL (JSON logs on stdout).
 */
export function spawnMidge (args: string[], options: { expectListeners?: number, env?: NodeJS.ProcessEnv } = {}): MidgeProcess {
  const child = spawn(process.execPath, [MIDGE_BIN, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logLines: Array<Record<string, unknown>> = []
  const logWaiters = new Set<(entry: Record<string, unknown>) => void>()
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }))
  })
  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    const urls: Record<string, string> = {}
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      let entry: Record<string, unknown>
      try { entry = JSON.parse(line) as Record<string, unknown> } catch { return }
      logLines.push(entry)
      for (const waiter of logWaiters) waiter(entry)
      if (entry.msg === 'listening' && typeof entry.listener === 'string' && typeof entry.url === 'string') {
        urls[entry.listener] = entry.url
        if (Object.keys(urls).length === (options.expectListeners ?? 1)) resolve(urls)
      }
    })
    void exited.then((e) => reject(new Error(`midge exited (${e.code ?? e.signal}) before it was ready: ${e.stderr}`)))
  })
  ready.catch(() => {})
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const waitForLog = (match: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    const seen = logLines.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const waiter = (entry: Record<string, unknown>): void => {
        if (!match(entry)) return
        logWaiters.delete(waiter)
        resolve(entry)
      }
      logWaiters.add(waiter)
      void exited.then((e) => reject(new Error(`midge exited (${e.code ?? e.signal}) before the log line: ${e.stderr}`)))
    })
  }
  return { child, ready, exited, logLines, waitForLog }
}
