#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander'
import { runPasswd } from '../src/cli/passwd.js'
import { runServer } from '../src/cli/serve.js'
import { version } from '../src/version.js'
import { describeDefaults } from '../src/config/defaults.js'

const program = new Command()

function port (value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number 0–65535')
  return Number(value)
}

// A usage error (unknown flag, bad value) is a bad config like any other: exit code 2.
program.exitOverride((err) => { process.exit(err.exitCode === 0 ? 0 : 2) })

program
  .name('midge')
  .description('A lightweight MQTT 3.1.1 broker for IoT and the edge.\n\nConfig precedence: built-in defaults (listed below, and in config/default.json) < --config file < MIDGE_* environment < flags.\nEnvironment: MIDGE_CONFIG, MIDGE_HOST, MIDGE_PORT, MIDGE_WS_PORT, MIDGE_HTTP_PORT, MIDGE_DATA_DIR, MIDGE_LOG_LEVEL, MIDGE_LOG_PRETTY.')
  .version(version, '-v, --version')
  .option('-c, --config <file>', 'JSON config file merged over the defaults')
  .option('--host <address>', 'bind every listener (the http one too) to this address')
  .option('-p, --port <port>', 'port of the first MQTT (TCP) listener; adds one if the config has none', port)
  .option('--ws-port <port>', 'port of the first MQTT-over-WebSocket listener; adds one if the config has none', port)
  .option('--http-port <port>', 'port of the first http listener (/health, /ready, /metrics); adds one if the config has none', port)
  .option('--data-dir <dir>', 'where the session store keeps its files')
  .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent')
  .option('--log-pretty', 'human-readable logs (default on a TTY)')
  .addHelpText('after', () => '\nConfig keys and defaults (README has the meaning of each):\n' + describeDefaults().map((l) => `  ${l}`).join('\n'))
  .action(async (opts: { config?: string, host?: string, port?: number, wsPort?: number, httpPort?: number, dataDir?: string, logLevel?: string, logPretty?: boolean }) => {
    await runServer({
      file: opts.config ?? process.env.MIDGE_CONFIG,
      overrides: { host: opts.host, port: opts.port, wsPort: opts.wsPort, httpPort: opts.httpPort, dataDir: opts.dataDir, logLevel: opts.logLevel, logPretty: opts.logPretty },
    })
  })

program
  .command('passwd')
  .description('add or update a user in a password file (scrypt); prompts without echo on a TTY, else reads one line from stdin')
  .argument('<file>', 'password file (created with mode 0600 if missing)')
  .argument('<user>', 'username')
  .option('-D, --delete', 'delete the user')
  .option('--password <password>', 'the password, for scripts (visible to other local users: prefer stdin)')
  .option('--cost <N>', 'scrypt cost N, a power of two (default 16384)', (v) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a power of two')
    return Number(v)
  })
  .action(async (file: string, user: string, opts: { delete?: boolean, password?: string, cost?: number }) => {
    process.exitCode = await runPasswd(file, user, opts)
  })

await program.parseAsync(process.argv)
