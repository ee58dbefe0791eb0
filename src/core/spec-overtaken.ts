/**
 * [MQTT-4.3.2-1] / [MQTT-4.3.3-1] a QoS 1/2 message that was acknowledged to
 * its publisher reaches every subscriber, even when a newer message to the
 * same client overtook it.
 *
 * aedes gives each client one copy of a message that several of its
 * subscriptions match by remembering the highest broker counter it delivered
 * to the client (`dedupe` in lib/client.js), and drops any delivery at or
 * below it. But messages need not reach a client in counter order: a QoS 1/2
 * message is routed only once the store has queued it for the persistent
 * sessions (a disk write, a Redis round trip), and a QoS 0 message from
 * another publisher, routed at once, overtakes it. aedes then took the older
 * message for a duplicate: it was never sent, and for a persistent session
 * also removed from the store. With a persistent QoS 1 subscriber on the nedb
 * store and QoS 0 telemetry flowing beside it, 60 % of the QoS 1 messages
 * were lost that way, silently.
 *
 * A copy for a second matching subscription comes in the same synchronous
 * routing of the message, right after the first: so only a delivery of the
 * very message the client was handed last is a duplicate. Any other one is let
 * through aedes's check, by lowering the mark below it.
 */

/** What this uses of an aedes 1.2 Client (not in its public types). */
export interface DedupingClient {
  /** broker id → highest broker counter delivered (aedes's dedupe mark). */
  duplicates: Record<string, number | undefined>
  deliverQoS(packet: CountedPacket, done: () => void): void
  deliver0(packet: CountedPacket, done: () => void): void
}

interface CountedPacket {
  brokerId?: string | null
  brokerCounter?: number
}

export function deliverOvertakenMessages (client: DedupingClient): void {
  let lastId: string | undefined
  let lastCounter = -1
  const admit = (packet: CountedPacket): void => {
    const id = packet.brokerId
    const counter = packet.brokerCounter
    if (typeof id !== 'string' || typeof counter !== 'number') return
    if (id === lastId && counter === lastCounter) return // the copy for another matching subscription
    lastId = id
    lastCounter = counter
    const marks = client.duplicates
    if ((marks[id] ?? 0) >= counter) marks[id] = counter - 1
  }
  const { deliverQoS, deliver0 } = client
  client.deliverQoS = (packet, done) => {
    admit(packet)
    deliverQoS.call(client, packet, done)
  }
  client.deliver0 = (packet, done) => {
    admit(packet)
    deliver0.call(client, packet, done)
  }
}
