import type { Socket } from 'node:net'
import { TLSSocket } from 'node:tls'

/**
 * The subject CN of the client certificate on `socket`, if the TLS layer
 * verified it against the listener's CA (`requestCert` sets
 * `rejectUnauthorized`, so an unverified one never gets this far). A
 * certificate with several CNs has no single identity: undefined.
 */
export function verifiedCertificateCN (socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined
  const cn: unknown = socket.getPeerCertificate().subject?.CN
  return typeof cn === 'string' && cn !== '' ? cn : undefined
}
