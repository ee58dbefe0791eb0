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
 * The copies for several matching subscriptions come in the same synchronous
 * routing of the message (the emitter calls every match in one loop). Another
 * message can come between them, when a subscriber's handler publishes from
 * inside that loop. So a delivery is a duplicate only if the client was handed
 * the same message earlier in the same synchronous run (between two microtask
 * checkpoints): aedes's mark, which that first copy raised to it, drops it.
 * Any other delivery is let through aedes's check, by lowering the mark below it.
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

/** How many of the messages handed in one run a copy is looked for among. */
const RECENT = 16

/** Counts synchronous runs: it moves on at the first microtask checkpoint after a delivery. */
let run = 0
let runEnding = false
const endRun = (): void => { run++; runEnding = false }
function currentRun (): number {
  if (!runEnding) {
    runEnding = true
    queueMicrotask(endRun)
  }
  return run
}

export function deliverOvertakenMessages (client: DedupingClient): void {
  let handedIn = -1
  // The last RECENT messages handed in run `handedIn`, as broker id, counter, id, counter…: a ring,
  // bounded, since one read can route hundreds of messages to a client in one run. Usually a copy
  // follows its original at once; a handler publishing while routing puts a few between them.
  const handed: Array<string | number> = []
  let handedCount = 0
  const admit = (packet: CountedPacket): void => {
    const id = packet.brokerId
    const counter = packet.brokerCounter
    if (typeof id !== 'string' || typeof counter !== 'number') return
    const now = currentRun()
    if (handedIn !== now) {
      handedIn = now
      handedCount = 0
    } else {
      const slots = 2 * Math.min(handedCount, RECENT)
      for (let i = 0; i < slots; i += 2) {
        // the copy for another matching subscription: aedes's mark already covers it (deliverTo lifts it)
        if (handed[i + 1] === counter && handed[i] === id) return
      }
    }
    const slot = 2 * (handedCount++ % RECENT)
    handed[slot] = id
    handed[slot + 1] = counter
    const marks = client.duplicates
    if ((marks[id] ?? 0) >= counter) marks[id] = counter - 1
  }
  const { deliverQoS, deliver0 } = client
  // aedes's deliverQoS hands a QoS 0 message on to client.deliver0: one delivery, checked once
  let delivering = false
  const checked = (deliver: typeof deliverQoS): typeof deliverQoS => (packet, done) => {
    if (delivering) {
      deliver.call(client, packet, done)
      return
    }
    admit(packet)
    delivering = true
    try {
      deliver.call(client, packet, done)
    } finally {
      delivering = false
    }
  }
  client.deliverQoS = checked(deliverQoS)
  client.deliver0 = checked(deliver0)
}
