/**
 * Bytes the kernel holds for one loopback TCP connection, read from
 * /proc/net/tcp (Linux): what a consumer has not read yet (its rx queue) plus
 * what the other end has written but not got acknowledged (its tx queue). It
 * shows whether a stalled consumer's socket really filled (megabytes) or not.
 */
import { readFile } from 'node:fs/promises'

interface Row {
  local: string
  remote: string
  /** TCP state, hex as in include/net/tcp_states.h: 01 = ESTABLISHED. */
  state: string
  tx: number
  rx: number
}

const ESTABLISHED = '01'

/** `127.0.0.1:port` as /proc/net/tcp writes it: little-endian hex address, big-endian hex port. */
const loopback = (port: number): string => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`

async function rows (): Promise<Row[]> {
  const text = await readFile('/proc/net/tcp', 'utf8')
  return text.split('\n').slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/)
    const queues = f[4]?.split(':')
    if (f[1] === undefined || f[2] === undefined || f[3] === undefined || queues?.length !== 2) return []
    return [{ local: f[1], remote: f[2], state: f[3], tx: parseInt(queues[0] ?? '0', 16), rx: parseInt(queues[1] ?? '0', 16) }]
  })
}

/**
 * About how many bytes the kernel holds toward the client at `clientPort`
 * (127.0.0.1): unread at the client plus unacknowledged at the server (an upper
 * bound: a segment received but not yet acknowledged counts on both sides; a
 * few % on loopback). NaN when procfs has no such established connection.
 */
export async function bytesQueuedToward (clientPort: number): Promise<number> {
  try {
    const me = loopback(clientPort)
    const all = (await rows()).filter((r) => r.state === ESTABLISHED)
    const client = all.find((r) => r.local === me)
    const server = all.find((r) => r.remote === me)
    if (client === undefined || server === undefined) return Number.NaN
    return client.rx + server.tx
  } catch {
    return Number.NaN
  }
}
