import { createServer, type Server, type Socket } from 'node:net'
import { ListenError } from '../errors.js'

/** listen() as a promise; a bind failure becomes a one-line ListenError. */
export function bind (server: Server, host: string, port: number, label: string): Promise<{ host: string, port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use`
        : err.code === 'EACCES' ? `no permission to bind ${host}:${port}` : err.message
      reject(new ListenError(`${label} listener: ${why}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const address = server.address()
      if (address === null || typeof address === 'string') return resolve({ host, port })
      resolve({ host: address.address, port: address.port })
    })
  })
}

/** close() as a promise that ignores "not running". */
export function closeServer (server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

export function formatHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/**
 * A plain TCP server in front of `inner` (a TLS, HTTP or HTTPS server, which does not listen itself):
 * each socket is admitted (limits, rates) before `inner` sees it, so a refused socket costs no TLS
 * handshake and reaches no handler of `inner`, which would report it once more as a failed handshake.
 */
export function admittingFront (inner: { emit(event: 'connection', socket: Socket): boolean }, admit: (socket: Socket) => boolean): Server {
  return createServer({ noDelay: true }, (socket) => { if (admit(socket)) inner.emit('connection', socket) })
}
