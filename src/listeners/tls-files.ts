import { readFileSync } from 'node:fs'
import { createSecureContext, type TlsOptions } from 'node:tls'
import { ListenError } from '../errors.js'

export interface TlsFileConfig {
  cert: string
  key: string
  ca?: string | undefined
  requestCert: boolean
}

/** Read a listener's PEM files; a missing file names itself. */
export function readTlsFiles (files: TlsFileConfig, label: string): TlsOptions {
  const read = (kind: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (err) {
      throw new ListenError(`${label} listener: cannot read ${kind} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
    }
  }
  const options: TlsOptions = {
    cert: read('cert', files.cert),
    key: read('key', files.key),
    ...(files.ca !== undefined ? { ca: read('ca', files.ca) } : {}),
    requestCert: files.requestCert,
    rejectUnauthorized: files.requestCert,
  }
  // Built here once so that a bad file is one line naming the listener and the files, not
  // OpenSSL's error with a stack from inside the TLS server's constructor.
  try {
    createSecureContext(options)
  } catch (err) {
    const ca = files.ca !== undefined ? `, ca ${files.ca}` : ''
    throw new ListenError(`${label} listener: cannot use cert ${files.cert}, key ${files.key}${ca}: ${(err as Error).message}`, { cause: err })
  }
  return options
}
