import { Duplex } from 'node:stream'

/** Two connected in-memory duplex streams (Node 20 has no stream.duplexPair). */
export function duplexPair (): [Duplex, Duplex] {
  let a: Duplex
  let b: Duplex
  const make = (peer: () => Duplex): Duplex => new Duplex({
    read () {},
    write (chunk: Buffer, _enc, done) { peer().push(chunk); done() },
    final (done) { peer().push(null); done() },
    destroy (err, done) { if (!peer().destroyed) peer().destroy(); done(err) },
  })
  a = make(() => b)
  b = make(() => a)
  return [a, b]
}
