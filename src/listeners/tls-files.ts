import { readFileSync } from 'node:fs'
import type { TlsOptions } from 'node:tls'
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
  return {
    cert: read('cert', files.cert),
    key: read('key', files.key),
    ...(files.ca !== undefined ? { ca: read('ca', files.ca) } : {}),
    requestCert: files.requestCert,
    rejectUnauthorized: files.requestCert,
  }
}
