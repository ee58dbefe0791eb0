/**
 * Session Present for sessions without subscriptions [MQTT-3.2.2-2].
 *
 * The spec counts "the existence of a Session, even if the rest of the Session
 * state is empty" as session state (§3.1.2.4), but aedes 1.2 sets Session
 * Present only when the store returns subscriptions for the client id. So a
 * client that connects with clean session 0, subscribes to nothing and comes
 * back is told its session is gone.
 *
 * Fix through the store's own contract: every persistent session keeps one
 * marker subscription. aedes restores it on reconnect (so Session Present is 1)
 * and asks `authorizeSubscribe` about it, where hook-slots refuses it, so it is
 * never routed. A clean-session connect removes it with the rest of the state.
 * The marker filter contains U+0000, which no client can subscribe or publish
 * to [MQTT-4.7.3-2], so it can never match a real message or subscription.
 */

/** The marker subscription's filter. */
export const SESSION_MARKER = '\u0000midge/session'

/** The aedes-persistence calls the marker needs. */
interface SubscriptionStore {
  addSubscriptions(client: { id: string }, subs: Array<{ topic: string, qos: number }>): Promise<void>
}

/** Record that `clientId` has a persistent session (idempotent). */
export function markSession (store: SubscriptionStore, clientId: string): Promise<void> {
  return store.addSubscriptions({ id: clientId }, [{ topic: SESSION_MARKER, qos: 0 }])
}

export function isSessionMarker (filter: string): boolean {
  return filter === SESSION_MARKER
}
