/**
 * BOLT #8 (08-transport.md) § "Authenticated Key Exchange Handshake Specification":
 * Noise_XK_secp256k1_ChaChaPoly_SHA256 with prologue "lightning", sans-IO.
 *
 * Every step is a pure function over explicit state objects. The ephemeral private key `e` is an
 * input: BOLT 8 requires it to be freshly random for every session, so callers MUST pass a new
 * random key each time (the protocol layer never generates randomness). Handshake state objects
 * hold secrets; use each one exactly once.
 *
 * Errors on received acts are {@link DecodeError}s whose codes are the upstream test-vector labels
 * prefixed with `NOISE_`: `NOISE_ACT1_READ_FAILED`, `NOISE_ACT1_BAD_VERSION`, `NOISE_ACT1_BAD_PUBKEY`,
 * `NOISE_ACT1_BAD_TAG`, the same for ACT2, and `NOISE_ACT3_READ_FAILED`, `NOISE_ACT3_BAD_VERSION`,
 * `NOISE_ACT3_BAD_CIPHERTEXT`, `NOISE_ACT3_BAD_PUBKEY`, `NOISE_ACT3_BAD_TAG`. On any of them the
 * connection MUST be terminated.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { secp } from '../crypto/secp256k1.js';
import { toHex, utf8 } from '../encoding/bytes.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { decryptWithAD, encryptWithAD, hkdf2, mixHash } from './cipher.js';
import { NoiseTransport } from './transport.js';

/** Act One and Act Two are 50 bytes: version, 33-byte ephemeral key, 16-byte MAC. */
export const ACT_ONE_LEN = 50;
/** Act Two length (same as Act One). */
export const ACT_TWO_LEN = 50;
/** Act Three is 66 bytes: version, 49-byte encrypted static key, 16-byte MAC. */
export const ACT_THREE_LEN = 66;

const PROTOCOL_NAME = utf8('Noise_XK_secp256k1_ChaChaPoly_SHA256');
const PROLOGUE = utf8('lightning');
const EMPTY = new Uint8Array(0);

/** Initiator state between sending Act One and receiving Act Two. */
export interface InitiatorAct2State {
  readonly role: 'initiator';
  /** Local static private key `ls.priv`. */
  readonly ls: Uint8Array;
  /** Responder static public key `rs.pub`. */
  readonly rs: Uint8Array;
  /** Ephemeral private key `e.priv`. */
  readonly e: Uint8Array;
  /** Chaining key after Act One. */
  readonly ck: Uint8Array;
  /** Handshake hash after Act One. */
  readonly h: Uint8Array;
}

/** Responder state between sending Act Two and receiving Act Three. */
export interface ResponderAct3State {
  readonly role: 'responder';
  /** Local static private key `ls.priv`. */
  readonly ls: Uint8Array;
  /** Ephemeral private key `e.priv`. */
  readonly e: Uint8Array;
  /** Initiator's ephemeral public key `re`, learned in Act One. */
  readonly re: Uint8Array;
  /** Chaining key after Act Two. */
  readonly ck: Uint8Array;
  /** Handshake hash after Act Two. */
  readonly h: Uint8Array;
  /** `temp_k2`, needed to decrypt the initiator's static key in Act Three. */
  readonly tempK2: Uint8Array;
}

/** Result of a completed handshake. */
export interface HandshakeResult {
  /** The established transport (sending/receiving keys, both chaining keys = final `ck`). */
  transport: NoiseTransport;
  /** The remote node's static public key (33 bytes). For the initiator this is the `rs` it dialled. */
  remoteStatic: Uint8Array;
  /** Final chaining key `ck` (initial `sck`/`rck`). */
  ck: Uint8Array;
  /** Final sending key `sk`. */
  sk: Uint8Array;
  /** Final receiving key `rk`. */
  rk: Uint8Array;
  /** Final handshake hash `h` (may be used for channel binding). */
  h: Uint8Array;
}

function checkPriv(k: Uint8Array, what: string): void {
  if (!secp().isPrivateKey(k)) throw new InvalidArgumentError(`${what} is not a valid private key`);
}

function isCompressedPoint(p: Uint8Array): boolean {
  return p.length === 33 && (p[0] === 2 || p[0] === 3) && secp().isPoint(p);
}

/** The initial `h`/`ck` (BOLT 8 § Handshake State Initialization), mixed with the responder's static key. */
function initialState(responderStatic: Uint8Array): { ck: Uint8Array; h: Uint8Array } {
  // BOLT #8: "h = SHA-256(protocolName)", "ck = h", "h = SHA-256(h || prologue)", "h = SHA-256(h || rs.pub.serializeCompressed())"
  const h0 = sha256(PROTOCOL_NAME);
  const h1 = mixHash(h0, PROLOGUE);
  return { ck: h0, h: mixHash(h1, responderStatic) };
}

/** Splits and checks an Act One/Two message: length, version byte, ephemeral key. */
function readEphemeralAct(act: Uint8Array, n: 1 | 2): { re: Uint8Array; c: Uint8Array } {
  if (act.length !== ACT_ONE_LEN)
    throw new DecodeError(`NOISE_ACT${n}_READ_FAILED`, `noise: act ${n} must be ${ACT_ONE_LEN} bytes`, {
      details: `got ${act.length}`,
    });
  // BOLT #8: "If `v` is an unrecognized handshake version, then the responder MUST abort the connection attempt."
  if (act[0] !== 0)
    throw new DecodeError(`NOISE_ACT${n}_BAD_VERSION`, `noise: act ${n} has an unknown version`, {
      details: String(act[0]),
    });
  const re = act.subarray(1, 34);
  // BOLT #8: "The read of `re.pub` MUST fail if the ephemeral key is not a valid secp256k1 point".
  if (!isCompressedPoint(re))
    throw new DecodeError(`NOISE_ACT${n}_BAD_PUBKEY`, `noise: act ${n} ephemeral key is not a valid point`, {
      details: toHex(re),
    });
  return { re: re.slice(), c: act.subarray(34) };
}

/**
 * Initiator, Act One (BOLT 8 § Act One, sender). `ls` = our static private key, `rs` = the
 * responder's static public key (known in advance), `e` = a fresh random ephemeral private key.
 * Returns the 50 bytes to send and the state for {@link initiatorAct2}.
 */
export function initiatorStart(
  ls: Uint8Array,
  rs: Uint8Array,
  e: Uint8Array,
): { state: InitiatorAct2State; act1: Uint8Array } {
  checkPriv(ls, 'ls');
  checkPriv(e, 'e');
  if (!isCompressedPoint(rs)) throw new InvalidArgumentError('rs is not a compressed public key');
  const init = initialState(rs);
  const ePub = secp().publicKey(e);
  let h = mixHash(init.h, ePub);
  const es = secp().ecdh(e, rs);
  const [ck, tempK1] = hkdf2(init.ck, es);
  const c = encryptWithAD(tempK1, 0, h, EMPTY);
  h = mixHash(h, c);
  const act1 = new Uint8Array(ACT_ONE_LEN);
  act1[0] = 0;
  act1.set(ePub, 1);
  act1.set(c, 34);
  return { state: { role: 'initiator', ls: ls.slice(), rs: rs.slice(), e: e.slice(), ck, h }, act1 };
}

/**
 * Initiator, Act Two received and Act Three sent (BOLT 8 § Act Two receiver, § Act Three sender).
 * Returns the 66 bytes of Act Three and the established transport.
 * Throws {@link DecodeError} `NOISE_ACT2_*` on a bad Act Two.
 */
export function initiatorAct2(
  state: InitiatorAct2State,
  act2: Uint8Array,
): HandshakeResult & { act3: Uint8Array } {
  const { re, c } = readEphemeralAct(act2, 2);
  let h = mixHash(state.h, re);
  const ee = secp().ecdh(state.e, re);
  const [ck2, tempK2] = hkdf2(state.ck, ee);
  // BOLT #8: "If the MAC check in this operation fails, then the initiator MUST terminate the connection"
  decryptWithAD(tempK2, 0, h, c, 'NOISE_ACT2_BAD_TAG', 'noise: act 2 MAC check failed');
  h = mixHash(h, c);

  const lsPub = secp().publicKey(state.ls);
  const c3 = encryptWithAD(tempK2, 1, h, lsPub);
  h = mixHash(h, c3);
  const se = secp().ecdh(state.ls, re);
  const [ck, tempK3] = hkdf2(ck2, se);
  const t = encryptWithAD(tempK3, 0, h, EMPTY);
  // BOLT #8: "sk, rk = HKDF(ck, zero)" where zero is a zero-length plaintext
  const [sk, rk] = hkdf2(ck, EMPTY);
  const act3 = new Uint8Array(ACT_THREE_LEN);
  act3[0] = 0;
  act3.set(c3, 1);
  act3.set(t, 50);
  return {
    act3,
    transport: new NoiseTransport({ ck, sk, rk }),
    remoteStatic: state.rs.slice(),
    ck,
    sk,
    rk,
    h,
  };
}

/**
 * Responder, Act One received and Act Two sent (BOLT 8 § Act One receiver, § Act Two sender).
 * `ls` = our static private key, `e` = a fresh random ephemeral private key.
 * Throws {@link DecodeError} `NOISE_ACT1_*` on a bad Act One.
 */
export function responderAct1(
  ls: Uint8Array,
  e: Uint8Array,
  act1: Uint8Array,
): { state: ResponderAct3State; act2: Uint8Array } {
  checkPriv(ls, 'ls');
  checkPriv(e, 'e');
  const init = initialState(secp().publicKey(ls));
  const { re, c } = readEphemeralAct(act1, 1);
  let h = mixHash(init.h, re);
  const es = secp().ecdh(ls, re);
  const [ck1, tempK1] = hkdf2(init.ck, es);
  // BOLT #8: "If the MAC check in this operation fails, then the responder MUST terminate the connection"
  decryptWithAD(tempK1, 0, h, c, 'NOISE_ACT1_BAD_TAG', 'noise: act 1 MAC check failed');
  h = mixHash(h, c);

  const ePub = secp().publicKey(e);
  h = mixHash(h, ePub);
  const ee = secp().ecdh(e, re);
  const [ck, tempK2] = hkdf2(ck1, ee);
  const c2 = encryptWithAD(tempK2, 0, h, EMPTY);
  h = mixHash(h, c2);
  const act2 = new Uint8Array(ACT_TWO_LEN);
  act2[0] = 0;
  act2.set(ePub, 1);
  act2.set(c2, 34);
  return { state: { role: 'responder', ls: ls.slice(), e: e.slice(), re, ck, h, tempK2 }, act2 };
}

/**
 * Responder, Act Three received (BOLT 8 § Act Three receiver). Returns the transport and the
 * initiator's authenticated static public key.
 * Throws {@link DecodeError} `NOISE_ACT3_*` on a bad Act Three.
 */
export function responderAct3(state: ResponderAct3State, act3: Uint8Array): HandshakeResult {
  if (act3.length !== ACT_THREE_LEN)
    throw new DecodeError('NOISE_ACT3_READ_FAILED', `noise: act 3 must be ${ACT_THREE_LEN} bytes`, {
      details: `got ${act3.length}`,
    });
  if (act3[0] !== 0)
    throw new DecodeError('NOISE_ACT3_BAD_VERSION', 'noise: act 3 has an unknown version', {
      details: String(act3[0]),
    });
  const c = act3.subarray(1, 50);
  const t = act3.subarray(50);
  // BOLT #8: "rs = decryptWithAD(temp_k2, 1, h, c)" — a MAC failure MUST terminate the connection.
  const rs = decryptWithAD(
    state.tempK2,
    1,
    state.h,
    c,
    'NOISE_ACT3_BAD_CIPHERTEXT',
    'noise: act 3 static key MAC check failed',
  );
  if (!isCompressedPoint(rs))
    throw new DecodeError('NOISE_ACT3_BAD_PUBKEY', 'noise: act 3 static key is not a valid point', {
      details: toHex(rs),
    });
  const h = mixHash(state.h, c);
  const se = secp().ecdh(state.e, rs);
  const [ck, tempK3] = hkdf2(state.ck, se);
  decryptWithAD(tempK3, 0, h, t, 'NOISE_ACT3_BAD_TAG', 'noise: act 3 MAC check failed');
  // BOLT #8: "rk, sk = HKDF(ck, zero)" (mirror of the initiator).
  const [rk, sk] = hkdf2(ck, EMPTY);
  return { transport: new NoiseTransport({ ck, sk, rk }), remoteStatic: rs, ck, sk, rk, h };
}
