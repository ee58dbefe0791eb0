import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword } from '../../src/security/scrypt.js'
import { RawClient } from '../helpers/clients.js'

/** A fresh temporary directory. */
export function tempDir (prefix = 'midge-sec-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Low-cost scrypt so tests stay fast; production hashes use the default cost. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 }

/** Write a password file for `users` (name → password); returns its path. */
export async function writePasswordFile (dir: string, users: Record<string, string>, name = 'passwd'): Promise<string> {
  const lines = await Promise.all(Object.entries(users).map(async ([user, pw]) => `${user}:${await hashPassword(pw, TEST_SCRYPT)}`))
  const path = join(dir, name)
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

/** Write an ACL file; returns its path. */
export function writeAclFile (dir: string, lines: readonly string[], name = 'acl'): string {
  const path = join(dir, name)
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

/** The CONNACK return code a raw client gets for these CONNECT fields. */
export async function connackCode (url: string, fields: Record<string, unknown> = {}): Promise<number> {
  const raw = await RawClient.open(url)
  const connack = await raw.connect(fields)
  return connack.returnCode
}

/** PEM files for a CA, a server certificate (localhost / 127.0.0.1) and client certificates. */
export interface TestCerts {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  /** Client cert/key signed by the CA with the given CN. */
  client(cn: string): { cert: string, key: string }
}

/** Generate certificates with the openssl CLI (takes well under a second). */
export function makeCerts (): TestCerts {
  const dir = tempDir('midge-tls-')
  const at = (f: string): string => join(dir, f)
  const openssl = (...args: string[]): void => { execFileSync('/usr/bin/openssl', args, { stdio: 'ignore' }) }
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=midge test CA', '-keyout', at('ca.key'), '-out', at('ca.pem'))
  const sign = (name: string, cn: string, ext: string): void => {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`,
      '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`))
    writeFileSync(at(`${name}.ext`), ext)
    openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`))
  }
  sign('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  return {
    dir,
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    client (cn) {
      const name = `client-${cn.replace(/[^a-z0-9-]/gi, '_')}`
      sign(name, cn, 'extendedKeyUsage=clientAuth\n')
      return { cert: at(`${name}.pem`), key: at(`${name}.key`) }
    },
  }
}
