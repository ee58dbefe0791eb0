/**
 * `npm run bench`: plain aedes vs midge (and Mosquitto when installed) on
 * loopback, side by side. Each (scenario, broker) run gets a fresh broker
 * child process; the broker order flips from one scenario (and repeat) to the
 * next so machine noise does not always favour the same one.
 *
 *   node dist/test/bench/run.js [--quick] [--only name[,name]] [--out file] [--repeat N]
 *                               [--brokers aedes,midge,mosquitto] [--midge-config JSON] [--no-nagle]
 *
 * Exit code 1 when any run failed (the table still shows every other figure).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BROKER_LABELS, MIDGE_BENCH_CONFIG, MOSQUITTO_PATH, mosquittoAvailable, startBroker, type BrokerName, type BrokerProcess } from './lib/brokers.js'
import { mergeJson, parseJsonObject } from './lib/json.js'
import { renderErrors, renderResults, renderRss, writeJson } from './lib/report.js'
import { combineRuns, type RunResult } from './lib/results.js'
import { now, withTimeout } from './lib/time.js'
import { openFilesLimit } from './scenarios/connections.js'
import { SCENARIOS } from './scenarios/index.js'
import type { Scenario, ScenarioContext } from './scenarios/types.js'

const HELP = `usage: node dist/test/bench/run.js [options]
  --quick            smaller counts (smoke run, ~30 s)
  --only a,b         scenarios by name or prefix (${SCENARIOS.map((s) => s.name).join(', ')})
  --out file         JSON output (default bench-results/latest.json)
  --brokers a,b      from aedes, midge, mosquitto (default: all available)
  --repeat N         runs per (scenario, broker), interleaved; the table shows medians
                     (default 3, with --quick 1; a broker's failed run ends its repeats)
  --midge-config J   JSON merged into midge's config for every scenario (variants, e.g. plugins off)
  --no-nagle         skip the extra "aedes with Nagle on" column
`

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench-results/latest.json' },
    brokers: { type: 'string' },
    'midge-config': { type: 'string' },
    repeat: { type: 'string' },
    'no-nagle': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const log = (line: string): void => { process.stderr.write(line + '\n') }
const notes: string[] = []

function selectBrokers (): BrokerName[] {
  const known: BrokerName[] = ['aedes', 'midge', 'mosquitto']
  const wanted = args.brokers === undefined ? known : args.brokers.split(',').map((s) => s.trim())
  const unknown = wanted.filter((b) => !(known as string[]).includes(b))
  if (unknown.length > 0) throw new Error(`unknown broker(s): ${unknown.join(', ')} (known: ${known.join(', ')})`)
  return (wanted as BrokerName[]).filter((b) => {
    if (b !== 'mosquitto' || mosquittoAvailable()) return true
    notes.push(`mosquitto skipped: ${MOSQUITTO_PATH} not found (apt-get install -y mosquitto)`)
    return false
  })
}

function selectScenarios (): Scenario[] {
  if (args.only === undefined) return [...SCENARIOS]
  const names = args.only.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const picked = SCENARIOS.filter((s) => names.some((n) => s.name === n || s.name.startsWith(n)))
  if (picked.length === 0) throw new Error(`--only ${args.only}: no such scenario (have ${SCENARIOS.map((s) => s.name).join(', ')})`)
  return picked
}

function versions (): Record<string, string> {
  const out: Record<string, string> = { node: process.version }
  try {
    const pkg = join(dirname(fileURLToPath(import.meta.resolve('aedes'))), 'package.json')
    out.aedes = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version
  } catch { /* reported as missing */ }
  if (mosquittoAvailable()) {
    const help = spawnSync(MOSQUITTO_PATH, ['-h'], { encoding: 'utf8', timeout: 5_000 })
    const v = /mosquitto version (\S+)/.exec(help.stdout)?.[1]
    if (v !== undefined) out.mosquitto = v
  }
  return out
}

const midgeOverride = parseJsonObject(args['midge-config'], '--midge-config')
if (args['midge-config'] !== undefined) notes.push(`midge config override: ${args['midge-config']}`)

let current: BrokerProcess | undefined
process.on('SIGINT', () => {
  log('interrupted: stopping the broker under test')
  void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130))
})

async function runOne (scenario: Scenario, broker: BrokerName, order: number, quick: boolean): Promise<RunResult> {
  const started = now()
  let proc: BrokerProcess | undefined
  try {
    const options = scenario.brokerOptions ?? {}
    proc = await startBroker(broker, { ...options, midgeConfig: mergeJson(midgeOverride, options.midgeConfig ?? {}) })
    current = proc
    const running = proc
    const ctx: ScenarioContext = {
      broker,
      host: '127.0.0.1',
      port: running.port,
      quick,
      rss: async () => (await running.memory()).rss,
      log,
    }
    const timeoutMs = scenario.timeoutMs(quick)
    const metrics = await withTimeout(scenario.run(ctx), timeoutMs, () => `scenario timed out after ${timeoutMs} ms`)
    if (running.exited()) throw new Error(`broker exited during the run\n${running.stderrTail()}`)
    const rssEndBytes = (await running.memory()).rss
    return { scenario: scenario.name, broker, order, ok: true, metrics, rssEndBytes, elapsedMs: now() - started }
  } catch (err) {
    const tail = proc?.exited() === true ? `\n${proc.stderrTail()}` : ''
    const error = (err instanceof Error ? err.message : String(err)) + tail
    return { scenario: scenario.name, broker, order, ok: false, metrics: [], error, elapsedMs: now() - started }
  } finally {
    await proc?.stop()
    current = undefined
  }
}

function summaryLine (r: RunResult): string {
  if (!r.ok) return `FAILED: ${r.error?.split('\n')[0] ?? ''}`
  return r.metrics.filter((m) => m.detail !== true).map((m) => `${m.label} ${Math.round(m.value * 100) / 100}`).join(', ')
}

function repeatCount (): number {
  // Three interleaved runs keep a full run near 3.5 min on 2 cores; --quick is a smoke test.
  const n = Number(args.repeat ?? (args.quick ? '1' : '3'))
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--repeat ${args.repeat ?? ''}: expected 1–9`)
  return n
}

async function main (): Promise<number> {
  const quick = args.quick
  const brokers = selectBrokers()
  const scenarios = selectScenarios()
  const repeats = repeatCount()
  const fdLimit = openFilesLimit()
  const withNagle = !args['no-nagle'] && brokers.includes('aedes')
  const runs: RunResult[] = []
  const t0 = now()
  log(`midge bench${quick ? ' (quick)' : ''}: ${brokers.join(', ')}; ${repeats} run(s) each; ${cpus().length} CPUs; ulimit -n ${fdLimit}`)

  let order = 0
  for (const [i, scenario] of scenarios.entries()) {
    const extras = withNagle ? (scenario.extraBrokers ?? []).filter((b) => !brokers.includes(b)) : []
    const failed = new Set<BrokerName>()
    log(`\n${scenario.name}: ${scenario.describe(quick)}`)
    for (let round = 0; round < repeats; round++) {
      // Alternate who goes first, across scenarios and repeats: aedes, midge, … then …, midge, aedes.
      const list = [...brokers, ...extras].filter((b) => !failed.has(b))
      if ((i + round) % 2 === 1) list.reverse()
      for (const broker of list) {
        const result = await runOne(scenario, broker, order++, quick)
        runs.push(result)
        if (!result.ok) failed.add(broker)
        log(`  ${BROKER_LABELS[broker].padEnd(17)} ${summaryLine(result)} (${(result.elapsedMs / 1000).toFixed(1)} s)`)
      }
    }
  }
  const durationMs = now() - t0

  const results = scenarios.flatMap((s) => [...brokers, 'aedes-nagle' as const].flatMap((b) => {
    const mine = runs.filter((r) => r.scenario === s.name && r.broker === b)
    return mine.length === 0 ? [] : [combineRuns(mine)]
  }))
  const names = scenarios.map((s) => s.name)
  const midgeConfig = mergeJson(MIDGE_BENCH_CONFIG, midgeOverride)
  const out = [
    '',
    `midge bench — ${new Date().toISOString()}${quick ? ' — QUICK (smaller counts)' : ''} — ${(durationMs / 1000).toFixed(0)} s` +
      (repeats > 1 ? ` — median of ${repeats} interleaved runs` : ''),
    `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${Object.entries(versions()).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    'Each run: a fresh broker child process on 127.0.0.1; raw mqtt-packet clients, TCP_NODELAY on both ends (aedes and mosquitto too).',
    `Queue bounds lifted: midge ${JSON.stringify(midgeConfig)}, mosquitto max_queued_messages 0.`,
    '',
    ...scenarios.map((s) => `  ${s.name.padEnd(14)} ${s.describe(quick)}`),
    '',
    renderResults(names, results),
    '',
    renderRss(names, results),
    ...(notes.length > 0 ? ['', ...notes.map((n) => `note: ${n}`)] : []),
  ]
  const errors = renderErrors(runs)
  if (errors !== '') out.push('', 'errors:', errors)
  process.stdout.write(out.join('\n') + '\n')

  await writeJson(args.out, {
    startedAt: new Date(Date.now() - durationMs).toISOString(),
    durationMs,
    quick,
    repeats,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemBytes: totalmem(), openFilesLimit: fdLimit },
    versions: versions(),
    brokers,
    midgeConfig,
    scenarios: scenarios.map((s) => ({ name: s.name, description: s.describe(quick) })),
    results,
    runs,
    notes,
  })
  log(`\nwrote ${args.out}`)
  return runs.every((r) => r.ok) ? 0 : 1
}

main().then((code) => process.exit(code), (err: unknown) => {
  log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  process.exit(2)
})
