import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

function findPackageJson (): { version: string } {
  // Source runs from src/, the build from dist/src/: try both depths.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(path) as { name?: string, version: string }
      if (pkg.name === 'midge') return pkg
    } catch {}
  }
  return { version: '0.0.0' }
}

/** midge's version, from package.json. */
export const version: string = findPackageJson().version
