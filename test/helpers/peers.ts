import { spawnSync } from 'node:child_process'

/**
 * Whether an external program the tests talk to (mosquitto-clients,
 * redis-server, openssl) is installed. On a developer machine a missing one
 * skips its tests; with `MIDGE_REQUIRE_PEERS=1` (set by CI, which installs
 * them) a missing one fails the run instead of silently skipping.
 */
export function peerInstalled (command: string, args: readonly string[] = ['--version']): boolean {
  const found = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 }).error === undefined
  if (!found && process.env.MIDGE_REQUIRE_PEERS === '1') {
    throw new Error(`${command} is not installed, and MIDGE_REQUIRE_PEERS=1 says the tests need it`)
  }
  return found
}
