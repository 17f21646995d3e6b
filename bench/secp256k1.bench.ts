/** The crypto floor: the secp256k1 primitives every Lightning operation is made of. */

import { sha256 } from '../src/protocol/crypto/hash.js';
import { secp } from '../src/protocol/crypto/secp256k1.js';
import type { BenchCase } from './harness.js';

const priv = sha256(new TextEncoder().encode('farad bench key'));
const other = secp().publicKey(sha256(new TextEncoder().encode('farad bench peer')));
const digest = sha256(new TextEncoder().encode('message'));
const sig = secp().sign(digest, priv);
const pub = secp().publicKey(priv);

const cases: BenchCase[] = [
  { group: 'secp256k1 primitives', name: 'ECDSA sign', fn: () => secp().sign(digest, priv) },
  { group: 'secp256k1 primitives', name: 'ECDSA verify', fn: () => secp().verify(sig, digest, pub) },
  { group: 'secp256k1 primitives', name: 'ECDH', fn: () => secp().ecdh(priv, other) },
];
export default cases;
