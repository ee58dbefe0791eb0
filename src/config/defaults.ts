import { configSchema, type BrokerConfig } from './schema.js'

/** Every key with its default, as `config/default.json` documents it. */
export function configDefaults (): BrokerConfig {
  return configSchema.parse({})
}

/** One line per leaf key: `path = default`, for `midge --help`. */
export function describeDefaults (): string[] {
  const lines: string[] = []
  const walk = (value: unknown, path: string): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path === '' ? k : `${path}.${k}`)
    } else {
      lines.push(`${path} = ${JSON.stringify(value)}`)
    }
  }
  walk(configDefaults(), '')
  return lines
}
