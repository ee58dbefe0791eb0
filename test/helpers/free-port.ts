import net from 'node:net'

/** A loopback TCP port free right now, for peers (Mosquitto, Redis) that cannot listen on port 0 and report it. */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}
