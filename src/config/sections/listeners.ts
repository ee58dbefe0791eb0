import { z } from 'zod'

const port = z.number().int().min(0).max(65535)
const host = z.string().min(1).default('127.0.0.1')
/** Optional per-listener connection cap; 0 = no cap beyond `limits.maxConnections`. */
const maxConnections = z.number().int().min(0).default(0)

const tlsFiles = {
  /** PEM file paths. */
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1).optional(),
  /** Ask clients for a certificate (verified against `ca`). */
  requestCert: z.boolean().default(false),
}

const mqtt = z.strictObject({ type: z.literal('mqtt'), name: z.string().optional(), host, port: port.default(1883), maxConnections })
/**
 * Client certificates are verified against `ca` alone: without one, Node
 * would fall back to its public root store, and with
 * `useCertificateAsUsername` any certificate a public CA signed would log in.
 */
const clientCertsNeedCa = (listener: { requestCert: boolean, ca?: string | undefined }, ctx: z.RefinementCtx): void => {
  if (listener.requestCert && listener.ca === undefined) {
    ctx.addIssue({ code: 'custom', path: ['ca'], message: 'requestCert needs ca: the PEM file of the CA that signs client certificates' })
  }
}

const mqtts = z.strictObject({ type: z.literal('mqtts'), name: z.string().optional(), host, port: port.default(8883), maxConnections, ...tlsFiles }).superRefine(clientCertsNeedCa)
const ws = z.strictObject({ type: z.literal('ws'), name: z.string().optional(), host, port: port.default(8083), path: z.string().startsWith('/').default('/mqtt'), maxConnections })
const wss = z.strictObject({ type: z.literal('wss'), name: z.string().optional(), host, port: port.default(8084), path: z.string().startsWith('/').default('/mqtt'), maxConnections, ...tlsFiles }).superRefine(clientCertsNeedCa)
const http = z.strictObject({ type: z.literal('http'), name: z.string().optional(), host, port: port.default(8081) })

export const listenerSchema = z.discriminatedUnion('type', [mqtt, mqtts, ws, wss, http])

export type ListenerConfig = z.output<typeof listenerSchema>
export type ListenerType = ListenerConfig['type']

export const DEFAULT_LISTENERS: z.input<typeof listenerSchema>[] = [
  { type: 'mqtt', host: '127.0.0.1', port: 1883 },
  { type: 'ws', host: '127.0.0.1', port: 8083, path: '/mqtt' },
  { type: 'http', host: '127.0.0.1', port: 8081 },
]
