/**
 * `npm run bench`: plain aedes vs midge (and Mosquitto when installed) on
 * loopback, side by side, with midge variants (plugins off, durable store) on
 * the scenarios where the open issues quote a ratio against them. Each
 * (scenario, broker) run gets a fresh broker child process; the broker order
 * flips from one scenario (and repeat) to the next so machine noise does not
 * always favour the same one.
 *
 *   node dist/test/bench/run.js [--quick] [--only name[,name]] [--out file] [--repeat N]
 *                               [--brokers aedes,midge,…] [--midge-config JSON] [--no-nagle]
 *                               [--cpu-prof dir]
 *
 * Exit code 1 when any run failed (the table still shows every other figure);
 * a missed goal is reported, not an exit code.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { BROKER_DESCRIPTIONS, BROKER_LABELS, BROKER_ORDER, DEFAULT_BROKERS, isBrokerName, MIDGE_BENCH_CONFIG, type BrokerName } from './lib/broker-names.js'
import { MOSQUITTO_PATH, mosquittoAvailable, startBroker, type BrokerProcess } from './lib/brokers.js'
import { evaluateGoals, GOALS } from './lib/goals.js'
import { mergeJson, parseJsonObject, type Json } from './lib/json.js'
import { renderErrors, renderGoals, renderResults, renderRss, renderWarnings, writeJson } from './lib/report.js'
import { combineRuns, type RunResult } from './lib/results.js'
import { now, withTimeout } from './lib/time.js'
import { openFilesLimit } from './scenarios/connections.js'
import { SCENARIOS } from './scenarios/index.js'
import type { Scenario, ScenarioContext } from './scenarios/types.js'

const HELP = `usage: node dist/test/bench/run.js [options]
  --quick            smaller counts, one run each (smoke run, ~1.5 min)
  --only a,b         scenarios by name or prefix:
                     ${SCENARIOS.map((s) => s.name + (s.optional === true ? ' (only when named)' : '')).join(', ')}
  --out file         JSON output (default bench-results/latest.json)
  --brokers a,b      from ${BROKER_ORDER.join(', ')}
                     (default: all available; a scenario runs those of them it lists;
                     aedes-nagle comes with aedes unless --no-nagle)
  --repeat N         runs per (scenario, broker), interleaved; the table shows medians
                     (default 3, with --quick 1; a broker's failed run ends its repeats)
  --midge-config J   JSON merged into every midge variant's config for every scenario
  --no-nagle         skip the extra "aedes with Nagle on" column
  --cpu-prof dir     every Node broker run writes a V8 CPU profile into dir
                     (<broker>-<time>.cpuprofile; open in Chrome DevTools)
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
    'cpu-prof': { type: 'string' },
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
  const wanted = args.brokers === undefined ? [...BROKER_ORDER] : args.brokers.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const unknown = wanted.filter((b) => !isBrokerName(b))
  if (unknown.length > 0) throw new Error(`unknown broker(s): ${unknown.join(', ')} (known: ${BROKER_ORDER.join(', ')})`)
  const picked = new Set(wanted as BrokerName[])
  // As before the variants existed: the Nagle column comes with aedes.
  if (picked.has('aedes')) picked.add('aedes-nagle')
  if (args['no-nagle']) picked.delete('aedes-nagle')
  if (picked.has('mosquitto') && !mosquittoAvailable()) {
    picked.delete('mosquitto')
    notes.push(`mosquitto skipped: ${MOSQUITTO_PATH} not found (apt-get install -y mosquitto)`)
  }
  return BROKER_ORDER.filter((b) => picked.has(b))
}

function selectScenarios (): Scenario[] {
  if (args.only === undefined) return SCENARIOS.filter((s) => s.optional !== true)
  const names = args.only.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const picked = SCENARIOS.filter((s) => names.some((n) => s.name === n || s.name.startsWith(n)))
  if (picked.length === 0) throw new Error(`--only ${args.only}: no such scenario (have ${SCENARIOS.map((s) => s.name).join(', ')})`)
  return picked
}

/** The selected brokers this scenario runs on, in column order. */
const brokersFor = (scenario: Scenario, selected: readonly BrokerName[]): BrokerName[] =>
  selected.filter((b) => (scenario.brokers ?? DEFAULT_BROKERS).includes(b))

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

async function runOne (scenario: Scenario, broker: BrokerName, order: number, round: number, quick: boolean): Promise<RunResult> {
  const started = now()
  const warnings: string[] = []
  let proc: BrokerProcess | undefined
  let brokerInfo: Json | undefined
  try {
    const options = scenario.brokerOptions ?? {}
    proc = await startBroker(broker, {
      ...options,
      midgeConfig: mergeJson(midgeOverride, options.midgeConfig ?? {}),
      ...(args['cpu-prof'] !== undefined ? { cpuProfDir: args['cpu-prof'] } : {}),
    })
    current = proc
    brokerInfo = proc.info
    const running = proc
    const ctx: ScenarioContext = {
      broker,
      host: '127.0.0.1',
      port: running.port,
      quick,
      rss: async () => (await running.memory()).rss,
      cpu: () => running.cpu(),
      log,
      warn: (message) => { warnings.push(message) },
    }
    const timeoutMs = scenario.timeoutMs(quick)
    const metrics = await withTimeout(scenario.run(ctx), timeoutMs, () => `scenario timed out after ${timeoutMs} ms`)
    if (running.exited()) throw new Error(`broker exited during the run\n${running.stderrTail()}`)
    const rssEndBytes = (await running.memory()).rss
    return { scenario: scenario.name, broker, order, round, ok: true, metrics, warnings, brokerInfo, rssEndBytes, elapsedMs: now() - started }
  } catch (err) {
    const tail = proc?.exited() === true ? `\n${proc.stderrTail()}` : ''
    const error = (err instanceof Error ? err.message : String(err)) + tail
    return { scenario: scenario.name, broker, order, round, ok: false, metrics: [], error, warnings, ...(brokerInfo !== undefined ? { brokerInfo } : {}), elapsedMs: now() - started }
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
  // Three interleaved runs: a full run took 6.9 min on the shared 2 cores (new scenarios ~2 min of it); --quick is a smoke test.
  const n = Number(args.repeat ?? (args.quick ? '1' : '3'))
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`--repeat ${args.repeat ?? ''}: expected 1–9`)
  return n
}

async function main (): Promise<number> {
  const quick = args.quick
  const brokers = selectBrokers()
  const chosen = selectScenarios()
  const scenarios = chosen.filter((s) => brokersFor(s, brokers).length > 0)
  const idle = chosen.filter((s) => !scenarios.includes(s)).map((s) => s.name)
  if (idle.length > 0) notes.push(`not run, none of their brokers selected: ${idle.join(', ')}`)
  const repeats = repeatCount()
  const fdLimit = openFilesLimit()
  const runs: RunResult[] = []
  const t0 = now()
  log(`midge bench${quick ? ' (quick)' : ''}: ${brokers.join(', ')}; ${repeats} run(s) each; ${cpus().length} CPUs; ulimit -n ${fdLimit}`)

  let order = 0
  for (const [i, scenario] of scenarios.entries()) {
    const failed = new Set<BrokerName>()
    log(`\n${scenario.name}: ${scenario.describe(quick)}`)
    for (let round = 0; round < repeats; round++) {
      // Alternate who goes first, across scenarios and repeats: aedes, midge, … then …, midge, aedes.
      const list = brokersFor(scenario, brokers).filter((b) => !failed.has(b))
      if ((i + round) % 2 === 1) list.reverse()
      for (const broker of list) {
        const result = await runOne(scenario, broker, order++, round, quick)
        runs.push(result)
        if (!result.ok) failed.add(broker)
        const flag = result.warnings.length > 0 ? ` [${result.warnings.length} warning(s)]` : ''
        log(`  ${BROKER_LABELS[broker].padEnd(17)} ${summaryLine(result)} (${(result.elapsedMs / 1000).toFixed(1)} s)${flag}`)
      }
    }
  }
  const durationMs = now() - t0

  const results = scenarios.flatMap((s) => BROKER_ORDER.flatMap((b) => {
    const mine = runs.filter((r) => r.scenario === s.name && r.broker === b)
    return mine.length === 0 ? [] : [combineRuns(mine)]
  }))
  const goals = evaluateGoals(GOALS, results, runs, quick)
  if (runs.some((r) => r.brokerInfo?.dataDirOnTmpfs === true)) notes.push(`midge nedb's dataDir (${tmpdir()}) is on tmpfs: its figures never touched a disk`)
  const names = scenarios.map((s) => s.name)
  const midgeConfig = mergeJson(MIDGE_BENCH_CONFIG, midgeOverride)
  const ran = BROKER_ORDER.filter((b) => runs.some((r) => r.broker === b))
  const out = [
    '',
    `midge bench — ${new Date().toISOString()}${quick ? ' — QUICK (smaller counts)' : ''} — ${(durationMs / 1000).toFixed(0)} s` +
      (repeats > 1 ? ` — median of ${repeats} interleaved runs` : ''),
    `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${Object.entries(versions()).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    'Each run: a fresh broker child process on 127.0.0.1; raw mqtt-packet clients, TCP_NODELAY on both ends (aedes and mosquitto too).',
    `Queue bounds lifted: every midge variant ${JSON.stringify(midgeConfig)}, mosquitto max_queued_messages 0. midge logs are silent.`,
    '',
    ...ran.map((b) => `  ${BROKER_LABELS[b].padEnd(17)} ${BROKER_DESCRIPTIONS[b]}`),
    '',
    ...scenarios.map((s) => `  ${s.name.padEnd(15)} ${s.describe(quick)}`),
    '',
    renderResults(names, results),
    ...(goals.length > 0
      ? ['', 'Figures the issues quote: ratios of the medians above; "per round" pairs the runs of each repeat (noise);', '"quick" = the goal is for the full counts. A MISS is reported, not an exit code.', '', renderGoals(goals)]
      : []),
    '',
    renderRss(names, results),
    ...(notes.length > 0 ? ['', ...notes.map((n) => `note: ${n}`)] : []),
  ]
  const warnings = renderWarnings(results)
  if (warnings !== '') out.push('', 'warnings:', warnings)
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
    brokerDescriptions: Object.fromEntries(ran.map((b) => [b, { label: BROKER_LABELS[b], description: BROKER_DESCRIPTIONS[b] }])),
    midgeConfig,
    scenarios: scenarios.map((s) => ({ name: s.name, description: s.describe(quick), brokers: brokersFor(s, brokers) })),
    results,
    goals,
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
