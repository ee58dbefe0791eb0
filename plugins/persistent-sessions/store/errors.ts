import { BrokerError } from '../../../src/errors.js'

/**
 * The session store's datafile cannot be read back: a line in the middle is
 * not a document. The broker refuses to start rather than start empty and
 * silently lose every session; `file` and `line` say where to look.
 */
export class StoreCorruptError extends BrokerError {
  readonly file: string
  /** 1-based line number of the first bad line; 0 when it is not known. */
  readonly line: number

  constructor (file: string, line: number, reason: string, options?: ErrorOptions) {
    super('ERR_STORE_CORRUPT', `session store ${file} is corrupt${line > 0 ? ` at line ${line}` : ''}: ${reason}. ` +
      'Refusing to start with an empty store; repair or move the file away.', options)
    this.name = 'StoreCorruptError'
    this.file = file
    this.line = line
  }
}

/** The store was used after `destroy()`. */
export class StoreClosedError extends BrokerError {
  constructor () {
    super('ERR_STORE_CLOSED', 'the session store is closed')
    this.name = 'StoreClosedError'
  }
}

/** The configured store backend cannot be built (e.g. an optional package is missing). */
export class StoreUnavailableError extends BrokerError {
  constructor (message: string, options?: ErrorOptions) {
    super('ERR_STORE_UNAVAILABLE', message, options)
    this.name = 'StoreUnavailableError'
  }
}
