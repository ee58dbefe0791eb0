import { describe, expect, test } from 'vitest'
import { Acl, covers, sharedFilter } from '../../src/security/acl.js'
import { parseAcl } from '../../src/security/acl-parser.js'
import { dummyFor } from '../../src/security/authenticator.js'
import { FixedHeaderScanner, type ScanHandler } from '../../src/security/packet-size.js'
import { parsePasswordFile, SecurityFileError, setPasswordLine } from '../../src/security/password-file.js'
import { AddressRateLimiter, PublishLimiter, TokenBucket } from '../../src/security/rate-limit.js'
import { formatHash, hashPassword, parseHash, verifyPassword } from '../../src/security/scrypt.js'

const FAST = { N: 1024, r: 8, p: 1 }

describe('scrypt hashes', () => {
  test('encode their parameters and verify only the right password', async () => {
    const hash = await hashPassword('s3cret', FAST)
    expect(hash).toMatch(/^\$scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
    const parsed = parseHash(hash)
    expect(await verifyPassword('s3cret', parsed)).toBe(true)
    expect(await verifyPassword('s3cret ', parsed)).toBe(false)
    expect(formatHash(parsed)).toBe(hash)
  })

  test('a random salt makes two hashes of one password differ', async () => {
    expect(await hashPassword('x', FAST)).not.toBe(await hashPassword('x', FAST))
  })

  test('bad parameters and malformed hashes are refused', async () => {
    await expect(hashPassword('x', { N: 1000, r: 8, p: 1 })).rejects.toThrow(/power of two/)
    expect(() => parseHash('$2y$10$abc')).toThrow(/not a \$scrypt/)
    expect(() => parseHash('$scrypt$N=1073741824,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA')).toThrow(/too large/)
  })
})

describe('password file', () => {
  test('parses user:hash lines, skipping comments and blanks', async () => {
    const hash = await hashPassword('pw', FAST)
    const table = parsePasswordFile(`# users\n\nalice:${hash}\nbob:${hash}\n`)
    expect([...table.keys()]).toEqual(['alice', 'bob'])
  })

  test('names the bad line', async () => {
    const hash = await hashPassword('pw', FAST)
    const run = (): unknown => parsePasswordFile(`alice:${hash}\nbob:plaintext\n`, 'pw.txt')
    expect(run).toThrow(SecurityFileError)
    expect(run).toThrow(/pw\.txt:2: user "bob": not a \$scrypt/)
    expect(() => parsePasswordFile(`a:${hash}\na:${hash}`)).toThrow(/:2: user "a" appears twice/)
  })

  test('an unknown user is checked at the cost most entries use, not at the first entry\'s', async () => {
    const odd = await hashPassword('pw', { ...FAST, N: FAST.N * 2 })
    const usual = await hashPassword('pw', FAST)
    const dummy = dummyFor(parsePasswordFile(`admin:${odd}\nalice:${usual}\nbob:${usual}\n`))
    expect(dummy.N).toBe(FAST.N)
  })

  test('setPasswordLine replaces in place, appends, deletes, and keeps comments', () => {
    const text = '# header\nalice:H1\nbob:H2\n'
    expect(setPasswordLine(text, 'alice', 'H3')).toEqual({ text: '# header\nalice:H3\nbob:H2\n', existed: true })
    expect(setPasswordLine(text, 'carol', 'H4').text).toBe('# header\nalice:H1\nbob:H2\ncarol:H4\n')
    expect(setPasswordLine(text, 'bob', null)).toEqual({ text: '# header\nalice:H1\n', existed: true })
    expect(setPasswordLine('', 'x', null)).toEqual({ text: '', existed: false })
  })
})

describe('ACL file', () => {
  const rules = parseAcl([
    '# anonymous',
    'topic read public/#',
    'user alice',
    'topic readwrite alice/#',
    'topic deny alice/secret/#',
    'topic read $SYS/#',
    'topic sensors/with space',
    'user bob',
    'topic write inbox/bob',
    'pattern readwrite devices/%c/#',
    'pattern read users/%u/#',
    'pattern deny devices/%c/locked',
  ].join('\n'))

  test('collects anonymous, per-user and pattern rules; no access word means readwrite', () => {
    expect(rules.anonymous).toEqual([{ access: 'read', filter: 'public/#', line: 2 }])
    expect(rules.users.get('alice')?.map((r) => `${r.access} ${r.filter}`)).toEqual(['readwrite alice/#', 'deny alice/secret/#', 'read $SYS/#', 'readwrite sensors/with space'])
    expect(rules.patterns).toHaveLength(3)
  })

  test('reports unknown keywords and bad filters with their line', () => {
    expect(() => parseAcl('topic read a\nallow x', 'acl')).toThrow(/acl:2: unknown keyword "allow"/)
    expect(() => parseAcl('topic read a/#/b', 'acl')).toThrow(/acl:1: bad topic filter "a\/#\/b"/)
    expect(() => parseAcl('user', 'acl')).toThrow(/acl:1: "user" needs a username/)
  })

  test('deny beats allow, whatever the order', () => {
    const alice = new Acl(rules).forClient({ username: 'alice', clientId: 'c1' })
    expect(alice.canWrite('alice/notes')).toBe(true)
    expect(alice.canWrite('alice/secret/x')).toBe(false)
    expect(alice.canRead('alice/secret/x')).toBe(false)
    const reversed = new Acl(parseAcl('user alice\ntopic deny alice/secret/#\ntopic readwrite alice/#')).forClient({ username: 'alice', clientId: 'c1' })
    expect(reversed.canWrite('alice/secret/x')).toBe(false)
  })

  test('read and write are separate; nothing is allowed unless granted', () => {
    const bob = new Acl(rules).forClient({ username: 'bob', clientId: 'b1' })
    expect(bob.canWrite('inbox/bob')).toBe(true)
    expect(bob.canRead('inbox/bob')).toBe(false)
    expect(bob.canRead('public/news')).toBe(false) // anonymous rules are not bob's
    const anon = new Acl(rules).forClient({ username: undefined, clientId: 'a1' })
    expect(anon.canRead('public/news')).toBe(true)
    expect(anon.canWrite('public/news')).toBe(false)
  })

  test('patterns substitute %c and %u; %u patterns skip anonymous clients', () => {
    const acl = new Acl(rules)
    const bob = acl.forClient({ username: 'bob', clientId: 'dev-7' })
    expect(bob.canWrite('devices/dev-7/temp')).toBe(true)
    expect(bob.canWrite('devices/dev-8/temp')).toBe(false)
    expect(bob.canWrite('devices/dev-7/locked')).toBe(false)
    expect(bob.canRead('users/bob/inbox')).toBe(true)
    const anon = acl.forClient({ username: undefined, clientId: 'dev-9' })
    expect(anon.canRead('users/undefined/inbox')).toBe(false)
    expect(anon.canWrite('devices/dev-9/x')).toBe(true)
  })

  test('a client id with wildcards or slashes gets no grant from a pattern', () => {
    const acl = new Acl(rules)
    expect(acl.forClient({ username: 'bob', clientId: '+' }).canWrite('devices/other/x')).toBe(false)
    expect(acl.forClient({ username: 'bob', clientId: 'a/b' }).canWrite('devices/a/b/x')).toBe(false)
    expect(acl.forClient({ username: 'bob', clientId: '#' }).canWrite('devices/#/x')).toBe(false)
  })

  test('a client id or username starting with $ gets no grant that would land on a $ topic', () => {
    const acl = new Acl(parseAcl('pattern readwrite %c/#\npattern read %u/inbox\npattern read $SYS/clients/%c'))
    const sys = acl.forClient({ username: '$DLQ', clientId: '$SYS' })
    expect(sys.canRead('$SYS/broker/clients/connected')).toBe(false)
    expect(sys.canWrite('$SYS/x')).toBe(false)
    expect(sys.canRead('$DLQ/inbox')).toBe(false)
    // a pattern that names the $ topic itself still grants it
    expect(sys.canRead('$SYS/clients/$SYS')).toBe(true)
    expect(acl.forClient({ username: 'u', clientId: 'dev$1' }).canWrite('dev$1/x')).toBe(true)
  })

  test('leading wildcards never reach $ topics: $SYS must be named', () => {
    const acl = new Acl(parseAcl('user u\ntopic read #\nuser admin\ntopic read #\ntopic read $SYS/#'))
    expect(acl.forClient({ username: 'u', clientId: 'x' }).canRead('$SYS/broker/uptime')).toBe(false)
    expect(acl.forClient({ username: 'u', clientId: 'x' }).canRead('$DLQ/a')).toBe(false)
    expect(acl.forClient({ username: 'admin', clientId: 'x' }).canRead('$SYS/broker/uptime')).toBe(true)
  })

  test('subscribe needs one read rule covering the whole filter; a deny covering it refuses', () => {
    const alice = new Acl(rules).forClient({ username: 'alice', clientId: 'c1' })
    expect(alice.canSubscribe('alice/#')).toBe(true) // alice/secret/# is withheld at delivery
    expect(alice.canSubscribe('alice/secret/#')).toBe(false)
    expect(alice.canSubscribe('#')).toBe(false)
    expect(alice.canSubscribe('$SYS/broker/#')).toBe(true)
    expect(alice.canSubscribe('$share/g/alice/+')).toBe(true)
    expect(alice.canSubscribe('$queue/alice/x')).toBe(true)
    expect(alice.canSubscribe('$share/g/other/x')).toBe(false)
  })

  test('covers() compares filters level by level', () => {
    expect(covers('a/#', 'a')).toBe(true)
    expect(covers('a/#', 'a/+/c')).toBe(true)
    expect(covers('a/+', 'a/#')).toBe(false)
    expect(covers('a/+/c', 'a/+/c')).toBe(true)
    expect(covers('a/b', 'a/+')).toBe(false)
    expect(covers('+/x', '$SYS/x')).toBe(false)
    expect(covers('#', '#')).toBe(true)
    expect(sharedFilter('$share/group/a/b')).toBe('a/b')
  })
})

describe('token buckets', () => {
  test('go into debt and report how long until they are out', () => {
    let now = 0
    const bucket = new TokenBucket(10, 10, () => now)
    bucket.take(15)
    expect(bucket.tokens).toBe(-5)
    expect(bucket.waitMs()).toBe(500)
    now = 500
    expect(bucket.waitMs()).toBe(0)
    now = 10_000
    expect(bucket.tokens).toBe(10) // capped at capacity
  })

  test('the publish limiter waits for the slower of messages and bytes', () => {
    let now = 0
    const limiter = new PublishLimiter(100, 1000, () => now)
    limiter.charge(3000)
    expect(limiter.waitMs()).toBe(2000)
    now = 2000
    expect(limiter.waitMs()).toBe(0)
  })

  test('per-address rate: burst, then refill; addresses are independent', () => {
    let now = 0
    const limiter = new AddressRateLimiter(1, 2, () => now)
    expect([limiter.admit('a'), limiter.admit('a'), limiter.admit('a')]).toEqual([true, true, false])
    expect(limiter.admit('b')).toBe(true)
    now = 1000
    expect(limiter.admit('a')).toBe(true)
  })

  test('per-address buckets stay bounded under an address flood', () => {
    let now = 0
    const limiter = new AddressRateLimiter(1, 1, () => now)
    for (let i = 0; i < 25_000; i++) {
      limiter.admit(`10.0.${i >> 8}.${i & 255}`)
      now += 0.01
    }
    expect(limiter.size).toBeLessThanOrEqual(10_000)
  })
})

describe('fixed header scanner', () => {
  const headers = (chunks: Buffer[]): Array<[number, number]> => {
    const seen: Array<[number, number]> = []
    const scanner = new FixedHeaderScanner()
    const handler: ScanHandler = { atBoundary: () => true, onHeader: (type, size) => { seen.push([type, size]); return true } }
    for (const chunk of chunks) expect(scanner.scan(chunk, 0, handler).outcome).toBe('end')
    return seen
  }

  test('finds every packet however the stream is split', () => {
    // PINGREQ, PUBLISH with 200-byte remaining length (2 length bytes), DISCONNECT
    const publish = Buffer.concat([Buffer.from([0x30, 0xc8, 0x01]), Buffer.alloc(200)])
    const stream = Buffer.concat([Buffer.from([0xc0, 0x00]), publish, Buffer.from([0xe0, 0x00])])
    const expected: Array<[number, number]> = [[12, 2], [3, 203], [14, 2]]
    expect(headers([stream])).toEqual(expected)
    expect(headers([...stream].map((b) => Buffer.from([b])))).toEqual(expected)
  })

  test('reports a five-byte remaining length as malformed', () => {
    const scanner = new FixedHeaderScanner()
    const result = scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 0, { atBoundary: () => true, onHeader: () => true })
    expect(result.outcome).toBe('malformed')
  })
})
