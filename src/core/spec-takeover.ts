import type { Aedes, Client } from 'aedes'

/**
 * [MQTT-3.1.4-2] One connection per client id, whatever order connections
 * close in.
 *
 * aedes 1.2 keeps the registered client of each id in `broker.clients[id]`,
 * and a client that closes unregisters *the id* (lib/client.js:
 * `if (broker.clients[id]) broker.unregisterClient(client)`), without asking
 * whether the entry is its own. A connection whose close had begun when the
 * next one with its id registered (registerClient then has nobody to take
 * over) removed the newer one's entry when it finished closing, so a third
 * connection with that id found nobody to disconnect, and two stayed
 * connected (found by a probe: 3 in 100 DISCONNECT-then-reconnect rounds).
 *
 * Here the newest registration of each id is tracked; when an older one's
 * unregister removes it, it is put back.
 */
export function keepNewestRegistration (aedes: Aedes): void {
  const registry = aedes as unknown as { clients: Record<string, Client | undefined>, connectedClients: number }
  const newest = new Map<string, Client>()
  aedes.on('client', (client) => { newest.set(client.id, client) })
  aedes.on('clientDisconnect', (client) => {
    const current = newest.get(client.id)
    if (current === client) {
      newest.delete(client.id)
      return
    }
    // Put back even one that is closing: its own close unregisters it (and reports its disconnect).
    // The count aedes lowered was the older connection's own: it stays as it is.
    if (current !== undefined && registry.clients[client.id] === undefined) registry.clients[client.id] = current
  })
}
