import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createWebSocketStream, WebSocketServer } from 'ws'
import type { ListenerConfig } from '../config/schema.js'
import { errorReason } from '../core/line-throttle.js'
import { closeForViolation } from '../core/spec-wire.js'
import { admittingFront, bind, closeServer, formatHost } from './bind.js'
import type { ConnectionGate } from './connection-gate.js'
import { verifiedCertificateCN } from './peer-certificate.js'
import { SocketPolicy } from './socket-policy.js'
import { readTlsFiles } from './tls-files.js'
import type { ConnectionHandler, RunningListener } from './types.js'

type WsListenerConfig = Extract<ListenerConfig, { type: 'ws' | 'wss' }>

/** The Sec-WebSocket-Protocol header offers `mqtt` or `mqttv3.1`, or no subprotocol at all. */
export function offersMqttOrNothing (header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true
  return header.split(',').some((p) => { const name = p.trim(); return name === 'mqtt' || name === 'mqttv3.1' })
}

/**
 * ws's stream sends each `write` as a WebSocket message, and mqtt-packet
 * writes a packet field by field (a CONNACK in 4 writes, a PUBLISH in 6), so
 * every field went out as a message of its own: allowed [MQTT-6.0.0-2], but
 * 4–6 times the frames, and clients that take one message per packet break.
 * mqtt-packet corks the stream for each packet (and the core for a batch of
 * deliveries): what a cork collected now goes out as one message.
 */
function packetPerMessage (stream: Duplex): Duplex {
  stream._writev = (chunks, callback) => {
    const first = chunks[0]!
    stream._write(chunks.length === 1 ? first.chunk : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), first.encoding, callback)
  }
  return stream
}

/**
 * Why an upgrade request is refused, if it is: another path, or subprotocols
 * offered but none we speak (answering without one would only make a browser
 * fail the handshake itself); one that offers none is let in.
 */
function upgradeRefusal (req: IncomingMessage, path: string): string | undefined {
  const url = req.url ?? '/'
  const query = url.indexOf('?')
  if ((query < 0 ? url : url.slice(0, query)) !== path) return `the path must be ${path}`
  if (!offersMqttOrNothing(req.headers['sec-websocket-protocol'])) return 'the WebSocket subprotocol must be mqtt (or mqttv3.1)'
  return undefined
}

/** MQTT over WebSocket (`ws`) or secure WebSocket (`wss`), subprotocol `mqtt` (MQTT 3.1.1 §6). */
export async function startWebSocketListener (config: WsListenerConfig, name: string, gate: ConnectionGate, onConnection: ConnectionHandler, policy = new SocketPolicy()): Promise<RunningListener> {
  const refuse = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    gate.failed(req.socket, name, 'websocket', 'not a WebSocket upgrade', `${req.method ?? ''} ${req.url ?? ''}`.slice(0, 200))
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end(`use a WebSocket on ${config.path}\n`)
  }
  const server: Server = config.type === 'wss'
    ? createHttpsServer({ ...readTlsFiles(config, name), noDelay: true, handshakeTimeout: policy.handshakeTimeoutMs }, refuse)
    : createHttpServer({ noDelay: true }, refuse)
  const wss = new WebSocketServer({
    server,
    // The path is checked here, not by ws (which refuses another path without a word), so the refusal is logged.
    verifyClient: (info, done) => {
      const refusal = upgradeRefusal(info.req, config.path)
      if (refusal === undefined) return done(true)
      gate.failed(info.req.socket, name, 'websocket', `WebSocket upgrade refused: ${refusal}`)
      done(false, 400, refusal)
    },
    // [MQTT-6.0.0-4] select `mqtt`; older clients offer only `mqttv3.1` (MQTT 3.1), as Mosquitto accepts.
    handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : (protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
    perMessageDeflate: false,
    // Bigger: closed with 1009 as soon as the frame header says so, before its bytes are buffered.
    maxPayload: policy.maxWebSocketMessage,
  })
  // ws re-emits the HTTP server's errors; a bind failure is the front's, reported by bind() below as one line.
  wss.on('error', () => {})
  // Bytes that are no HTTP request: answered as Node's default handler does, and reported.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    gate.failed(socket, name, 'websocket', `not an HTTP request: ${errorReason(err)}`)
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
  })
  // The CONNECT timeout counts from the connection (for wss, from the end of the TLS handshake, which
  // has its own timeout): a socket that never upgrades must not hold a connection slot.
  const upgradeTimers = new WeakMap<Socket, NodeJS.Timeout>()
  const awaitUpgrade = (socket: Socket): void => {
    const timeoutMs = policy.handshakeTimeoutMs
    if (timeoutMs === undefined) return
    const timer = setTimeout(() => {
      gate.failed(socket, name, 'websocket', 'no WebSocket upgrade within limits.connectTimeoutMs')
      socket.destroy()
    }, timeoutMs)
    timer.unref()
    upgradeTimers.set(socket, timer)
    socket.once('close', () => { clearTimeout(timer) })
  }
  // Raw TCP, before any TLS handshake or HTTP upgrade is paid for.
  const front = admittingFront(server, (socket) => {
    socket.setNoDelay(true)
    if (!policy.admitAddress(socket.remoteAddress)) return gate.refuse(socket, name, 'limits.connectionRatePerIp exceeded')
    if (!gate.admit(socket, name, config.maxConnections)) return false
    if (config.type === 'ws') awaitUpgrade(socket)
    return true
  })
  if (config.type === 'wss') {
    server.on('secureConnection', awaitUpgrade)
    server.on('tlsClientError', gate.tlsClientError(name))
  }
  wss.on('connection', (ws, req) => {
    clearTimeout(upgradeTimers.get(req.socket))
    const stream = packetPerMessage(createWebSocketStream(ws))
    // Errors on the stream surface through aedes as client errors; keep the process safe meanwhile.
    stream.on('error', () => {})
    const meta = { listener: name, remoteAddress: req.socket.remoteAddress, certificateCN: verifiedCertificateCN(req.socket) }
    const conn = policy.wrap(stream)
    // [MQTT-6.0.0-1] MQTT travels in binary frames only: close on a text frame, before aedes reads from it.
    ws.on('message', (_data, isBinary) => {
      if (isBinary) return
      closeForViolation(conn, 'a text frame (MQTT travels in binary frames) [MQTT-6.0.0-1]')
      ws.terminate()
    })
    onConnection(conn, meta, req)
  })
  const bound = await bind(front, config.host, config.port, name)
  return {
    address: { name, type: config.type, host: bound.host, port: bound.port, path: config.path, url: `${config.type}://${formatHost(bound.host)}:${bound.port}${config.path}` },
    close: async () => {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await closeServer(front)
    },
  }
}
