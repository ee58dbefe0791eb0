import { createServer, type ServerResponse } from 'node:http'
import type { ListenerConfig } from '../config/schema.js'
import { bind, closeServer, formatHost } from './bind.js'
import type { RunningListener } from './types.js'

/** A response an HTTP route produces. */
export interface HttpResponse {
  status: number
  contentType: string
  body: string
}

export type HttpRoute = () => HttpResponse | Promise<HttpResponse>

/** Routes served by `http` listeners; `/health` and `/ready` are the core's, plugins add more (e.g. `/metrics`). */
export class HttpRoutes {
  readonly #routes = new Map<string, HttpRoute>()

  add (path: string, route: HttpRoute): void {
    this.#routes.set(path, route)
  }

  get (path: string): HttpRoute | undefined {
    return this.#routes.get(path)
  }
}

type HttpListenerConfig = Extract<ListenerConfig, { type: 'http' }>

/** Health, readiness and metrics over plain HTTP (GET only). */
export async function startHttpListener (config: HttpListenerConfig, name: string, routes: HttpRoutes): Promise<RunningListener> {
  const send = (res: ServerResponse, r: HttpResponse, headers: Record<string, string> = {}): void => {
    res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store', ...headers }).end(r.body)
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const route = routes.get(path)
    // RFC 9110 §15.5.6: a 405 says which methods are allowed
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, { status: 405, contentType: 'text/plain', body: 'method not allowed\n' }, { allow: 'GET, HEAD' })
    if (route === undefined) return send(res, { status: 404, contentType: 'text/plain', body: 'not found\n' })
    Promise.resolve().then(route).then((r) => send(res, r), (err: Error) => send(res, { status: 500, contentType: 'text/plain', body: `${err.message}\n` }))
  })
  server.keepAliveTimeout = 5_000
  const bound = await bind(server, config.host, config.port, name)
  return {
    address: { name, type: 'http', host: bound.host, port: bound.port, url: `http://${formatHost(bound.host)}:${bound.port}` },
    close: async () => {
      server.closeAllConnections()
      await closeServer(server)
    },
  }
}
