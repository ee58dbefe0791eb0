import { writeFileSync } from 'node:fs'
import { configDefaults } from '../config/defaults.js'

/** Regenerate config/default.json from the schema (`npm run config:defaults`). */
const path = process.argv[2] ?? 'config/default.json'
writeFileSync(path, JSON.stringify(configDefaults(), null, 2) + '\n')
process.stdout.write(`wrote ${path}\n`)
