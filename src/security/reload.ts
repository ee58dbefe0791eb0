/**
 * The seam between the process and the security plugin. A library must not
 * take over SIGHUP (its default is to end the process, and an embedding
 * application may use it), so the plugin only registers here; the CLI's
 * signal handler (src/cli/serve.ts) or an embedding application calls
 * `reloadSecurity()`.
 */

/** The outcome of one broker's reload. */
export interface ReloadResult {
  brokerId: string
  ok: boolean
  /** Why the reload failed; the previous files stay in force. */
  error?: Error
}

type Reloader = () => Promise<void>

const reloaders = new Map<string, Reloader>()

/** Called by the security plugin; returns the call that unregisters it. */
export function registerReloader (brokerId: string, reload: Reloader): () => void {
  reloaders.set(brokerId, reload)
  return () => {
    if (reloaders.get(brokerId) === reload) reloaders.delete(brokerId)
  }
}

/**
 * Re-read the password and ACL files of one broker (or of every broker in this
 * process). Connections stay up; new rules apply from the next packet on. A
 * file that fails to parse leaves the previous rules in force.
 */
export async function reloadSecurity (brokerId?: string): Promise<ReloadResult[]> {
  const targets = brokerId === undefined ? [...reloaders] : [...reloaders].filter(([id]) => id === brokerId)
  return Promise.all(targets.map(async ([id, reload]) => {
    try {
      await reload()
      return { brokerId: id, ok: true }
    } catch (err) {
      return { brokerId: id, ok: false, error: err as Error }
    }
  }))
}
