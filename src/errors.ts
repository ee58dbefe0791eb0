/**
 * Every error midge raises on purpose carries a stable `code`; the README lists
 * them all (a test checks it).
 */
export class BrokerError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'BrokerError'
    this.code = code
  }
}

/** A config value failed validation. `path` is the key path, e.g. `listeners[1].port`. */
export class ConfigError extends BrokerError {
  readonly issues: ReadonlyArray<{ path: string, message: string }>

  constructor (issues: ReadonlyArray<{ path: string, message: string }>, options?: ErrorOptions) {
    super('ERR_CONFIG_INVALID', 'invalid config:\n' + issues.map((i) => `  ${i.path}: ${i.message}`).join('\n'), options)
    this.name = 'ConfigError'
    this.issues = issues
  }

  /** The first bad key path. */
  get path (): string {
    return this.issues[0]?.path ?? ''
  }
}

/** A plugin failed to register, timed out, or its metadata is wrong. */
export class PluginError extends BrokerError {
  readonly plugin: string

  constructor (code: string, plugin: string, message: string, options?: ErrorOptions) {
    super(code, message, options)
    this.name = 'PluginError'
    this.plugin = plugin
  }
}

/** Authentication refused; `returnCode` is the CONNACK code sent (MQTT 3.1.1 §3.2.2.3). */
export class AuthError extends BrokerError {
  readonly returnCode: 2 | 3 | 4 | 5

  constructor (returnCode: 2 | 3 | 4 | 5, message: string) {
    super('ERR_AUTH_REFUSED', message)
    this.name = 'AuthError'
    this.returnCode = returnCode
  }
}

/** A listener could not bind (port in use, permission, bad TLS files). */
export class ListenError extends BrokerError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_LISTEN', message, options)
    this.name = 'ListenError'
  }
}
