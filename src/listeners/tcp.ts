import { createServer as createNetServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { ListenerConfig } from '../config/schema.js'
import { admittingFront, bind, closeServer, formatHost } from './bind.js'
import type { ConnectionGate } from './connection-gate.js'
import { verifiedCertificateCN } from './peer-certificate.js'
import { SocketPolicy } from './socket-policy.js'
import { readTlsFiles } from './tls-files.js'
import type { ConnectionHandler, RunningListener } from './types.js'

type TcpListenerConfig = Extract<ListenerConfig, { type: 'mqtt' | 'mqtts' }>

/** MQTT over TCP (`mqtt`) or TLS (`mqtts`). */
export async function startTcpListener (config: TcpListenerConfig, name: string, gate: ConnectionGate, onConnection: ConnectionHandler, policy = new SocketPolicy()): Promise<RunningListener> {
  const handOver = (socket: Socket): void => {
    onConnection(policy.wrap(socket), { listener: name, remoteAddress: socket.remoteAddress, certificateCN: verifiedCertificateCN(socket) })
  }
  // The per-address rate and the connection caps apply to the raw TCP connection, before a TLS
  // handshake is paid for: a socket still in its handshake holds a file descriptor too, and
  // counting only finished handshakes let idle sockets on a TLS port exhaust them.
  const admit = (socket: Socket): boolean => {
    // aedes writes a packet in several writes: without TCP_NODELAY every round trip waits ~40 ms on Nagle.
    socket.setNoDelay(true)
    if (!policy.admitAddress(socket.remoteAddress)) return gate.refuse(socket, name, 'limits.connectionRatePerIp exceeded')
    return gate.admit(socket, name, config.maxConnections)
  }
  let server: Server
  if (config.type === 'mqtts') {
    const tls = createTlsServer({ ...readTlsFiles(config, name), handshakeTimeout: policy.handshakeTimeoutMs })
    server = admittingFront(tls, admit)
    tls.on('secureConnection', (socket: TLSSocket) => { handOver(socket) })
    // A failed handshake (e.g. a plain client on the TLS port, an untrusted client certificate) closes only that socket.
    tls.on('tlsClientError', gate.tlsClientError(name))
  } else {
    server = createNetServer({ noDelay: true }, (socket) => { if (admit(socket)) handOver(socket) })
  }
  const bound = await bind(server, config.host, config.port, name)
  const scheme = config.type
  return {
    address: { name, type: config.type, host: bound.host, port: bound.port, url: `${scheme}://${formatHost(bound.host)}:${bound.port}` },
    close: () => closeServer(server),
  }
}
