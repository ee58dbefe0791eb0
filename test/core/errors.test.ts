import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

function sources (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : []
  })
}

test('every error code raised in the code is documented in the README', () => {
  const codes = new Set<string>()
  for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'plugins')), ...sources(join(root, 'bin'))]) {
    for (const match of readFileSync(file, 'utf8').matchAll(/'(ERR_[A-Z0-9_]+)'/g)) codes.add(match[1] as string)
  }
  expect(codes.size).toBeGreaterThan(5)
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const missing = [...codes].filter((code) => !readme.includes(`\`${code}\``))
  expect(missing).toEqual([])
})
