import type { Client } from 'aedes'
import type { ClientInfo } from './message.js'

/** What midge knows about a connection before aedes does. */
export interface ConnectionMeta {
  listener: string
  remoteAddress: string | undefined
  /** Subject CN of a client certificate the TLS layer verified. */
  certificateCN?: string | undefined
}

class LiveClientInfo implements ClientInfo {
  readonly #client: Client
  readonly listener: string
  readonly remoteAddress: string | undefined
  readonly certificateCN: string | undefined
  username: string | undefined

  constructor (client: Client, meta: ConnectionMeta) {
    this.#client = client
    this.listener = meta.listener
    this.remoteAddress = meta.remoteAddress
    this.certificateCN = meta.certificateCN
  }

  /** The aedes client behind a facade (for the adapter; plugins never see it). */
  static clientOf (info: LiveClientInfo): Client { return info.#client }

  /** aedes's id is null until CONNECT. */
  get id (): string { return this.#client.id ?? '' }
  get clean (): boolean { return this.#client.clean }
}

/**
 * The facade plugins see for an aedes Client. Kept in a WeakMap so nothing is
 * stored on aedes's objects and it dies with the connection.
 */
export class ClientDirectory {
  readonly #infos = new WeakMap<Client, LiveClientInfo>()

  attach (client: Client, meta: ConnectionMeta): ClientInfo {
    const info = new LiveClientInfo(client, meta)
    this.#infos.set(client, info)
    return info
  }

  /** The facade of an aedes client, if it has one (undefined for any other object, e.g. a store's `{ id }`). */
  known (client: object): ClientInfo | undefined {
    return this.#infos.get(client as Client)
  }

  /** The aedes client behind a facade this directory made. */
  clientOf (info: ClientInfo): Client | undefined {
    return info instanceof LiveClientInfo ? LiveClientInfo.clientOf(info) : undefined
  }

  /** The facade for a client; created lazily for clients that bypassed `attach`. */
  of (client: Client): ClientInfo {
    return this.#infos.get(client) ?? this.attach(client, { listener: 'stream', remoteAddress: undefined })
  }

  setUsername (client: Client, username: string | undefined): void {
    const info = this.#infos.get(client) ?? (this.of(client) as LiveClientInfo)
    info.username = username
  }
}
