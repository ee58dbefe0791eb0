import { z } from 'zod'
import { configSchema, type BrokerConfig } from './schema.js'

/** Every key with its default, as `config/default.json` documents it. */
export function configDefaults (): BrokerConfig {
  return configSchema.parse({})
}

/**
 * One line per leaf key: `path = default`, for `midge --help`; keys without a
 * default (a password file, a Redis URL) as `path (unset)`.
 */
export function describeDefaults (): string[] {
  const lines: string[] = []
  const walk = (schema: z.ZodType, value: unknown, path: string): void => {
    const object = objectShape(schema)
    if (object !== undefined && (value === undefined || isPlainObject(value))) {
      for (const [key, child] of Object.entries(object)) {
        walk(child, (value as Record<string, unknown> | undefined)?.[key], path === '' ? key : `${path}.${key}`)
      }
    } else {
      lines.push(value === undefined ? `${path} (unset)` : `${path} = ${JSON.stringify(value)}`)
    }
  }
  walk(configSchema, configDefaults(), '')
  return lines
}

/** The shape of an object schema, through `.optional()` / `.default()` / `.prefault()`; undefined for anything else. */
function objectShape (schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType
  return s instanceof z.ZodObject ? s.shape as Record<string, z.ZodType> : undefined
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}
