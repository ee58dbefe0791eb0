/** Plain-JSON helpers for config overrides. */

export type Json = Record<string, unknown>

export const isJsonObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `over` merged onto `base`: objects deeply, everything else (arrays too) replaced. */
export function mergeJson (base: Json, over: Json): Json {
  const out: Json = { ...base }
  for (const [key, value] of Object.entries(over)) {
    const current = out[key]
    out[key] = isJsonObject(current) && isJsonObject(value) ? mergeJson(current, value) : value
  }
  return out
}

/** Parses a JSON object given on the command line, naming the flag when it is not one. */
export function parseJsonObject (text: string | undefined, flag: string): Json {
  const value: unknown = JSON.parse(text ?? '{}')
  if (!isJsonObject(value)) throw new Error(`${flag} must be a JSON object`)
  return value
}
