/**
 * A native libsecp256k1 backend for the crypto port (npm `secp256k1`, N-API addon with bundled
 * prebuilds), 10-20x faster than pure JS for signing and ECDH. Install it at start-up of a Node
 * process with `setSecp256k1Backend(loadNativeSecp256k1())`. Results are byte-identical to the
 * noble backend (RFC 6979 nonces, low-S, BOLT ECDH = sha256 of the compressed point): checked
 * by test/crypto/native-backend.test.ts. BIP340 Schnorr is delegated to noble.
 */
import { createRequire } from 'node:module';
import { nobleBackend, type Secp256k1Backend } from '../../protocol/crypto/secp256k1.js';
import { InvalidArgumentError } from '../../protocol/errors.js';

interface NativeSecp {
  privateKeyVerify(k: Uint8Array): boolean;
  privateKeyTweakAdd(k: Uint8Array, t: Uint8Array): Uint8Array;
  privateKeyTweakMul(k: Uint8Array, t: Uint8Array): Uint8Array;
  publicKeyVerify(p: Uint8Array): boolean;
  publicKeyCreate(k: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyConvert(p: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCombine(ps: Uint8Array[], compressed?: boolean): Uint8Array;
  publicKeyTweakMul(p: Uint8Array, t: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyTweakAdd(p: Uint8Array, t: Uint8Array, compressed?: boolean): Uint8Array;
  signatureNormalize(s: Uint8Array): Uint8Array;
  ecdsaSign(msg: Uint8Array, k: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(sig: Uint8Array, msg: Uint8Array, p: Uint8Array): boolean;
  ecdsaRecover(sig: Uint8Array, recid: number, msg: Uint8Array, compressed?: boolean): Uint8Array;
  ecdh(p: Uint8Array, k: Uint8Array): Uint8Array;
}

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new InvalidArgumentError(`${what} failed`, {
      details: e instanceof Error ? e.message : String(e),
      cause: e,
    });
  }
}

/**
 * Loads the native addon. Throws InvalidArgumentError `INVALID_ARGUMENT` with the loader's
 * message when no binary is available for this platform (callers fall back to noble).
 */
export function loadNativeSecp256k1(): Secp256k1Backend {
  const require = createRequire(import.meta.url);
  const s = wrap('loading native secp256k1', () => require('secp256k1/bindings.js') as NativeSecp);
  return {
    name: 'libsecp256k1 (native)',
    publicKey: (priv) => wrap('publicKey', () => s.publicKeyCreate(priv, true)),
    sign(digest, priv) {
      return wrap('sign', () => s.ecdsaSign(digest, priv).signature);
    },
    signRecoverable(digest, priv) {
      const r = wrap('sign', () => s.ecdsaSign(digest, priv));
      return { signature: r.signature, recovery: r.recid };
    },
    verify(sig, digest, pub, allowHighS = false) {
      if (sig.length !== 64 || digest.length !== 32) return false;
      try {
        // libsecp256k1 rejects high-S; normalise only when the caller allows it.
        return s.ecdsaVerify(allowHighS ? s.signatureNormalize(Uint8Array.from(sig)) : sig, digest, pub);
      } catch {
        return false;
      }
    },
    recover: (sig, recovery, digest) => wrap('recover', () => s.ecdsaRecover(sig, recovery, digest, true)),
    ecdh: (priv, pub) => wrap('ecdh', () => s.ecdh(pub, priv)),
    pointMul: (pub, k) => wrap('pointMul', () => s.publicKeyTweakMul(pub, k, true)),
    pointAdd: (a, b) => wrap('pointAdd', () => s.publicKeyCombine([a, b], true)),
    pointAddTweak: (pub, tweak) => wrap('pointAddTweak', () => s.publicKeyTweakAdd(pub, tweak, true)),
    privAdd: (a, b) => wrap('privAdd', () => s.privateKeyTweakAdd(Uint8Array.from(a), b)),
    privMul: (a, b) => wrap('privMul', () => s.privateKeyTweakMul(Uint8Array.from(a), b)),
    isPoint(pub) {
      try {
        return s.publicKeyVerify(pub);
      } catch {
        return false;
      }
    },
    isPrivateKey(priv) {
      try {
        return priv.length === 32 && s.privateKeyVerify(priv);
      } catch {
        return false;
      }
    },
    schnorrSign: nobleBackend.schnorrSign,
    schnorrVerify: nobleBackend.schnorrVerify,
  };
}
