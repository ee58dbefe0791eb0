import { readFileSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import { type BrokerConfig, type BrokerConfigInput, configSchema } from './schema.js'

/** Command-line / environment overrides, applied last. */
export interface ConfigOverrides {
  host?: string
  port?: number
  wsPort?: number
  httpPort?: number
  dataDir?: string
  logLevel?: string
  logPretty?: boolean
}

type Json = Record<string, unknown>

/**
 * Defaults < file < environment < flags. Validates the merge, reports every bad
 * key path at once, and returns a deep-frozen config.
 */
export function loadConfig (options: { file?: string, overrides?: ConfigOverrides, env?: NodeJS.ProcessEnv, input?: BrokerConfigInput } = {}): Readonly<BrokerConfig> {
  let merged: Json = { ...(options.input as Json | undefined) }
  if (options.file !== undefined) merged = deepMerge(merged, readConfigFile(options.file))
  const env = envOverrides(options.env ?? {})
  const overrides = { ...env.overrides, ...stripUndefined(options.overrides ?? {}) }
  // every bad key at once: the environment's with the file's
  try {
    const config = validateConfig(applyOverrides(merged, overrides))
    if (env.issues.length > 0) throw new ConfigError(env.issues)
    return config
  } catch (err) {
    if (err instanceof ConfigError && env.issues.length > 0 && err.issues !== env.issues) throw new ConfigError([...env.issues, ...err.issues], { cause: err })
    throw err
  }
}

/** Validate a config object; throws `ConfigError` naming every bad path. */
export function validateConfig (input: unknown): Readonly<BrokerConfig> {
  const result = configSchema.safeParse(input, { reportInput: true })
  const across = acrossKeys(input)
  if (!result.success || across.length > 0) {
    throw new ConfigError([...(result.error?.issues ?? []).flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown key' }))
      }
      return [{ path: formatPath(issue.path), message: describeIssue(issue, issue.path.at(-1)) }]
    }), ...across])
  }
  const config = deepFreeze(result.data)
  validated.add(config)
  return config
}

/**
 * Rules across keys, checked here and not in the schema: a refined zod object
 * loses `.pick()`, `.partial()` and `.omit()`, and its refinement runs only
 * once everything else is valid, so it was not named with the other bad keys.
 */
function acrossKeys (input: unknown): Array<{ path: string, message: string }> {
  const config = isPlainObject(input) ? input : {}
  const sessions = isPlainObject(config.sessions) ? config.sessions : {}
  const cluster = isPlainObject(config.cluster) ? config.cluster : {}
  // (a start-up failure of the store would say the same later, with exit code 1, not 2)
  if (sessions.store === 'redis' && cluster.redis === undefined) {
    return [{ path: 'cluster.redis', message: 'required with sessions.store "redis": a redis://host:port/db URL, got nothing' }]
  }
  return []
}

/** Configs `validateConfig` returned: passed again (e.g. the CLI's to createBroker), they need no second pass. */
const validated = new WeakSet<object>()

/** Whether `input` came from `validateConfig` (a frozen object of the user's own is not: it is validated). */
export function isValidatedConfig (input: unknown): input is Readonly<BrokerConfig> {
  return typeof input === 'object' && input !== null && validated.has(input)
}

function readConfigFile (file: string): Json {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '(file)', message: `cannot read ${file}: ${(err as Error).message}` }], { cause: err })
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error('top level must be an object')
    }
    return parsed as Json
  } catch (err) {
    throw new ConfigError([{ path: '(file)', message: `${file} is not valid JSON: ${(err as Error).message}` }], { cause: err })
  }
}

const ENV_KEYS: Record<string, keyof ConfigOverrides> = {
  MIDGE_HOST: 'host',
  MIDGE_PORT: 'port',
  MIDGE_WS_PORT: 'wsPort',
  MIDGE_HTTP_PORT: 'httpPort',
  MIDGE_DATA_DIR: 'dataDir',
  MIDGE_LOG_LEVEL: 'logLevel',
  MIDGE_LOG_PRETTY: 'logPretty',
}

const PORT_KEYS = new Set<keyof ConfigOverrides>(['port', 'wsPort', 'httpPort'])

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on'])
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off'])

/** The overrides the environment gives, and what is wrong with it (reported with the schema's issues). */
function envOverrides (env: NodeJS.ProcessEnv): { overrides: ConfigOverrides, issues: Array<{ path: string, message: string }> } {
  const out: Record<string, unknown> = {}
  const issues: Array<{ path: string, message: string }> = []
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const value = env[name]
    if (value === undefined || value === '') continue
    if (PORT_KEYS.has(key)) {
      if (/^\d+$/.test(value) && Number(value) <= 65535) out[key] = Number(value)
      else issues.push({ path: name, message: `expected a port number 0–65535, got ${JSON.stringify(value)}` })
    } else if (key === 'logPretty') {
      const word = value.toLowerCase()
      if (TRUE_WORDS.has(word)) out[key] = true
      else if (FALSE_WORDS.has(word)) out[key] = false
      else issues.push({ path: name, message: `expected 1/true/yes/on or 0/false/no/off, got ${JSON.stringify(value)}` })
    } else if (key === 'logLevel' && !configSchema.shape.logLevel.safeParse(value).success) {
      // named after the variable: a user with no config file never wrote `logLevel`
      issues.push({ path: name, message: `expected one of ${configSchema.shape.logLevel.unwrap().options.join(', ')}, got ${JSON.stringify(value)}` })
    } else {
      out[key] = value
    }
  }
  return { overrides: out as ConfigOverrides, issues }
}

function applyOverrides (config: Json, o: ConfigOverrides): Json {
  const out: Json = { ...config }
  if (o.dataDir !== undefined) out.dataDir = o.dataDir
  if (o.logLevel !== undefined) out.logLevel = o.logLevel
  if (o.logPretty !== undefined) out.logPretty = o.logPretty
  if (o.host === undefined && o.port === undefined && o.wsPort === undefined && o.httpPort === undefined) return out
  const schemaDefaults = configSchema.parse({}).listeners as unknown[]
  const listeners = (Array.isArray(out.listeners) ? out.listeners : schemaDefaults).map((l) => ({ ...(l as Json) }))
  if (o.host !== undefined) for (const l of listeners) l.host = o.host
  if (o.port !== undefined) setFirst(listeners, 'mqtt', o.port)
  if (o.wsPort !== undefined) setFirst(listeners, 'ws', o.wsPort)
  if (o.httpPort !== undefined) setFirst(listeners, 'http', o.httpPort)
  out.listeners = listeners
  return out
}

/** The first listener of `type` gets `port`; a config without one gets one (on the default host). */
function setFirst (listeners: Json[], type: string, port: number): void {
  const target = listeners.find((l) => l.type === type)
  if (target !== undefined) target.port = port
  else listeners.push({ type, port })
}

function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    out += typeof part === 'number' ? `[${part}]` : (out === '' ? String(part) : `.${String(part)}`)
  }
  return out === '' ? '(root)' : out
}

function describeIssue (issue: { code: string, message: string, input?: unknown, expected?: unknown }, key: PropertyKey | undefined): string {
  // A union's discriminator, and a check across keys (superRefine), come with the whole object as
  // their input: show the value at the key only (a missing one is "nothing").
  const whole = typeof key === 'string' && isPlainObject(issue.input) ? issue.input : undefined
  const input = whole !== undefined && issue.code === 'invalid_union' && (key as string) in whole
    ? whole[key as string]
    : whole !== undefined && issue.code === 'custom' ? whole[key as string] : issue.input
  const got = `got ${JSON.stringify(input) ?? 'nothing'}`
  if (issue.code === 'invalid_type') return `expected ${String(issue.expected)}, ${got}`
  return `${issue.message.replace(/^Invalid input: /, '')}, ${got}`
}

function deepMerge (base: Json, over: Json): Json {
  const out: Json = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key]
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value
  }
  return out
}

function isPlainObject (v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
