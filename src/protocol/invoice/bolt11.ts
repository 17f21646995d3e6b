/**
 * BOLT #11 (11-payment-encoding.md): Lightning invoices — decoding, signature checking and
 * encoding/signing. Also the bLIP-39 `b` (20) blinded-path field.
 *
 * Decoding is split in two steps: {@link parseInvoice} checks everything that does not need the
 * curve (bech32, prefix/amount, tagged fields, required fields, feature bits) and returns the
 * signature and signing hash; {@link decodeInvoice} also checks the signature and yields the payee
 * (BOLT 11: "A reader: MUST check that the `signature` is valid"). Only `decodeInvoice`'s result may
 * be trusted.
 *
 * Every error on bad input is a {@link DecodeError}. The codes are `BOLT11_` + an upper-case reason:
 * bech32 (`BOLT11_NO_SEPARATOR`, `BOLT11_MIXED_CASE`, `BOLT11_INVALID_CHARACTER`, `BOLT11_BAD_CHECKSUM`),
 * human-readable part (`BOLT11_UNKNOWN_PREFIX`, `BOLT11_INVALID_MULTIPLIER`, `BOLT11_INVALID_AMOUNT`,
 * `BOLT11_SUB_MILLISATOSHI_PRECISION`), layout (`BOLT11_TOO_SHORT`, `BOLT11_FIELD_OVERRUN`),
 * fields (`BOLT11_INVALID_DESCRIPTION`, `BOLT11_NON_MINIMAL_FIELD`, `BOLT11_VALUE_TOO_LARGE`,
 * `BOLT11_INVALID_ROUTE_HINT`, `BOLT11_INVALID_BLINDED_PATH`), semantics
 * (`BOLT11_MISSING_PAYMENT_HASH`, `BOLT11_MISSING_DESCRIPTION`, `BOLT11_DESCRIPTION_CONFLICT`,
 * `BOLT11_MISSING_PAYMENT_SECRET`, `BOLT11_UNKNOWN_EVEN_FEATURE_BIT`) and signature
 * (`BOLT11_SIGNATURE_NOT_RECOVERABLE`, `BOLT11_HIGH_S_SIGNATURE_WITH_PAYEE_FIELD`, `BOLT11_INVALID_SIGNATURE`).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CURVE_ORDER, secp } from '../crypto/secp256k1.js';
import { bytesToBigInt, equal, utf8 } from '../encoding/bytes.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { featureInfo } from '../features.js';
import { type FallbackAddress, type FallbackType, fallbackAddress, isValidFallback } from './address.js';
import {
  bech32DecodeUnlimited,
  bech32EncodeUnlimited,
  bytesToWords,
  numberToWords,
  wordsToBytes,
  wordsToNumber,
} from './bech32.js';
import { type Bolt11Network, formatHrp, parseHrp } from './hrp.js';

/** Tagged-field type numbers (the 5-bit value; the letter is its bech32 character). */
export const Bolt11Tag = {
  /** `p` payment_hash. */
  PAYMENT_HASH: 1,
  /** `r` route hint. */
  ROUTE_HINT: 3,
  /** `9` features. */
  FEATURES: 5,
  /** `x` expiry. */
  EXPIRY: 6,
  /** `f` fallback address. */
  FALLBACK: 9,
  /** `d` description. */
  DESCRIPTION: 13,
  /** `s` payment secret. */
  PAYMENT_SECRET: 16,
  /** `n` payee node id. */
  PAYEE: 19,
  /** `b` blinded path (bLIP-39). */
  BLINDED_PATH: 20,
  /** `h` description hash. */
  DESCRIPTION_HASH: 23,
  /** `c` min_final_cltv_expiry_delta. */
  MIN_FINAL_CLTV_EXPIRY_DELTA: 24,
  /** `m` payment metadata. */
  METADATA: 27,
} as const;

/** Default `x` when absent (BOLT 11: "Default is 3600 (1 hour) if not specified"). */
export const DEFAULT_EXPIRY_SECONDS = 3600;
/** Default `c` when absent (BOLT 11: "Default is 18 if not specified"). */
export const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA = 18;

const SIGNATURE_WORDS = 104; // 520 bits = 64-byte r||s + recovery id
const TIMESTAMP_WORDS = 7; // 35 bits
const MAX_FIELD_WORDS = 1023; // 10-bit data_length
const HALF_ORDER = CURVE_ORDER >> 1n;
// Strict UTF-8 that keeps a leading U+FEFF (the default decoder would drop it and break re-encoding).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** One `r` entry (BOLT 11: pubkey, short_channel_id, fee_base_msat, fee_proportional_millionths, cltv_expiry_delta). */
export interface RouteHintHop {
  /** Node id of the start of the channel (33 bytes; not checked to be on the curve). */
  pubkey: Uint8Array;
  /** BOLT 7 short_channel_id (block << 40 | tx << 16 | output). */
  shortChannelId: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

/** bLIP-39 `blinded_hop`. */
export interface BlindedHop {
  /** Blinded node id (the first hop's is the real introduction node id). 33 bytes. */
  blindedNodeId: Uint8Array;
  /** `encrypted_recipient_data` for this hop (BOLT 4). */
  encryptedData: Uint8Array;
}

/** bLIP-39 `blinded_payinfo`: one `b` field. */
export interface Bolt11BlindedPath {
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  htlcMaximumMsat: bigint;
  /** Raw feature bytes of the path (`flen` bytes). */
  features: Uint8Array;
  /** First path key (`first_ephemeral_blinding_point`), 33 bytes. */
  firstEphemeralBlindingPoint: Uint8Array;
  /** The hops, introduction node first (`num_hops` = length, 1..255). */
  hops: BlindedHop[];
}

/** A fallback as written into an `f` field (decoding also fills `type` and `address`). */
export interface FallbackField {
  version: number;
  program: Uint8Array;
  type?: FallbackType;
  address?: string;
}

/**
 * One tagged field. Decoding returns every field in invoice order; fields a reader must skip
 * (unknown types, `p`/`h`/`s`/`n` of the wrong length, `f` with an unknown version or an invalid
 * program) come back as `raw`, so re-encoding reproduces the exact invoice.
 */
export type Bolt11Field =
  | { kind: 'payment_hash'; value: Uint8Array }
  | { kind: 'payment_secret'; value: Uint8Array }
  | { kind: 'description'; value: string }
  | { kind: 'description_hash'; value: Uint8Array }
  | { kind: 'payee'; value: Uint8Array }
  | { kind: 'expiry'; value: number }
  | { kind: 'min_final_cltv_expiry_delta'; value: number }
  | { kind: 'fallback'; value: FallbackField }
  | { kind: 'route_hint'; value: RouteHintHop[] }
  | { kind: 'features'; value: number[] }
  | { kind: 'metadata'; value: Uint8Array }
  | { kind: 'blinded_path'; value: Bolt11BlindedPath }
  | { kind: 'raw'; type: number; words: Uint8Array };

/** A structurally valid invoice whose signature has NOT been checked ({@link parseInvoice}). */
export interface Bolt11ParsedInvoice {
  /** Lowercase human-readable part, e.g. `lnbc2500u`. */
  hrp: string;
  network: Bolt11Network;
  /** Amount in millisatoshi, or null when unspecified. */
  amountMsat: bigint | null;
  /** Seconds since the epoch. */
  timestamp: number;
  /** First valid `p`. */
  paymentHash: Uint8Array;
  /** First valid `s`; null only for bLIP-39 invoices with blinded paths. */
  paymentSecret: Uint8Array | null;
  description: string | null;
  descriptionHash: Uint8Array | null;
  /** The `n` field (explicit payee node id), if present. */
  payeeNodeId: Uint8Array | null;
  /** `x`, or 3600 when absent. */
  expiry: number;
  /** `c`, or 18 when absent. */
  minFinalCltvExpiryDelta: number;
  fallbacks: FallbackAddress[];
  /** One inner array per `r` field. */
  routeHints: RouteHintHop[][];
  /** Set feature bits, ascending (from the first `9` field; empty when absent). */
  features: number[];
  metadata: Uint8Array | null;
  blindedPaths: Bolt11BlindedPath[];
  /** Every tagged field in order (see {@link Bolt11Field}). */
  fields: Bolt11Field[];
  /** 64-byte compact r||s as transmitted. */
  signature: Uint8Array;
  /** Recovery id as transmitted (0..255; only 0..3 are recoverable). */
  recoveryId: number;
  /** SHA-256 of hrp || data (without the signature), zero-padded to a byte: the signed digest. */
  signingHash: Uint8Array;
}

/** A decoded invoice with a checked signature. */
export interface Bolt11Invoice extends Bolt11ParsedInvoice {
  /** The payee node id: the `n` field if present (signature verified against it), else the recovered key. */
  payee: Uint8Array;
}

function fail(code: string, message: string, details?: string): never {
  throw new DecodeError(code, message, details === undefined ? {} : { details });
}

/** `BxTxO` rendering of a short_channel_id (BOLT 7). */
export function formatShortChannelId(scid: bigint): string {
  return `${scid >> 40n}x${(scid >> 16n) & 0xffffffn}x${scid & 0xffffn}`;
}

/** Words → bytes keeping the trailing partial byte zero-padded (the signing-data rule). */
function wordsToBytesPadded(words: Uint8Array, end: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((end * 5) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    acc = ((acc << 5) | words[i]!) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0) out[o] = (acc << (8 - bits)) & 0xff;
  return out;
}

function signingHash(hrp: string, words: Uint8Array, end: number): Uint8Array {
  return sha256.create().update(utf8(hrp)).update(wordsToBytesPadded(words, end)).digest();
}

/** A minimal-length unsigned value (`x`, `c`): no leading zero word, at most 10 words (50 bits). */
function readMinimalNumber(words: Uint8Array, start: number, end: number, what: string): number {
  // BOLT #11: "if a `c`, `x`, or `9` field is provided which has a non-minimal `data_length` ... SHOULD treat the invoice as invalid."
  if (end > start && words[start] === 0) fail('BOLT11_NON_MINIMAL_FIELD', `${what} has leading zero words`);
  if (end - start > 10) fail('BOLT11_VALUE_TOO_LARGE', `${what} does not fit in 50 bits`);
  return wordsToNumber(words, start, end);
}

function featureBitsFromWords(words: Uint8Array, start: number, end: number): number[] {
  if (end > start && words[start] === 0)
    fail('BOLT11_NON_MINIMAL_FIELD', 'features field has leading zero words');
  const bits: number[] = [];
  const n = end - start;
  for (let i = n - 1; i >= 0; i--) {
    const w = words[start + i]!;
    if (w === 0) continue;
    const base = (n - 1 - i) * 5;
    for (let j = 0; j < 5; j++) if (w & (1 << j)) bits.push(base + j);
  }
  return bits;
}

function featureWordsFromBits(bits: readonly number[]): Uint8Array {
  let max = -1;
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0 || b >= MAX_FIELD_WORDS * 5)
      throw new InvalidArgumentError(`invalid feature bit ${b}`);
    if (b > max) max = b;
  }
  const n = max < 0 ? 0 : Math.floor(max / 5) + 1;
  const out = new Uint8Array(n);
  for (const b of bits) out[n - 1 - Math.floor(b / 5)]! |= 1 << (b % 5);
  return out;
}

function parseRouteHint(bytes: Uint8Array): RouteHintHop[] {
  if (bytes.length === 0 || bytes.length % 51 !== 0)
    fail(
      'BOLT11_INVALID_ROUTE_HINT',
      'route hint length is not a positive multiple of 51 bytes',
      `${bytes.length}`,
    );
  const r = new Reader(bytes);
  const hops: RouteHintHop[] = [];
  while (!r.done) {
    hops.push({
      pubkey: r.bytes(33).slice(),
      shortChannelId: r.u64(),
      feeBaseMsat: r.u32(),
      feeProportionalMillionths: r.u32(),
      cltvExpiryDelta: r.u16(),
    });
  }
  return hops;
}

function parseBlindedPath(bytes: Uint8Array): Bolt11BlindedPath {
  try {
    const r = new Reader(bytes);
    const feeBaseMsat = r.u32();
    const feeProportionalMillionths = r.u32();
    const cltvExpiryDelta = r.u16();
    const htlcMinimumMsat = r.u64();
    const htlcMaximumMsat = r.u64();
    const features = r.bytes(r.u16()).slice();
    const firstEphemeralBlindingPoint = r.bytes(33).slice();
    const numHops = r.u8();
    if (numHops === 0) fail('BOLT11_INVALID_BLINDED_PATH', 'blinded path has no hops');
    const hops: BlindedHop[] = [];
    for (let i = 0; i < numHops; i++) {
      const blindedNodeId = r.bytes(33).slice();
      const len = r.bigsize();
      if (len > BigInt(r.remaining))
        fail('BOLT11_INVALID_BLINDED_PATH', 'blinded hop cipher text overruns the field');
      hops.push({ blindedNodeId, encryptedData: r.bytes(Number(len)).slice() });
    }
    if (!r.done) fail('BOLT11_INVALID_BLINDED_PATH', 'trailing bytes after the blinded path');
    return {
      feeBaseMsat,
      feeProportionalMillionths,
      cltvExpiryDelta,
      htlcMinimumMsat,
      htlcMaximumMsat,
      features,
      firstEphemeralBlindingPoint,
      hops,
    };
  } catch (e) {
    if (e instanceof DecodeError && e.code === 'BOLT11_INVALID_BLINDED_PATH') throw e;
    throw new DecodeError('BOLT11_INVALID_BLINDED_PATH', 'malformed blinded path', { cause: e });
  }
}

/** Decodes one tagged field's data into a typed field, or `null` when a reader must skip it. */
function decodeField(
  type: number,
  words: Uint8Array,
  s: number,
  e: number,
  network: Bolt11Network,
): Bolt11Field | null {
  const len = e - s;
  switch (type) {
    case Bolt11Tag.PAYMENT_HASH:
      return len === 52 ? { kind: 'payment_hash', value: wordsToBytes(words, s, e) } : null;
    case Bolt11Tag.PAYMENT_SECRET:
      return len === 52 ? { kind: 'payment_secret', value: wordsToBytes(words, s, e) } : null;
    case Bolt11Tag.DESCRIPTION_HASH:
      return len === 52 ? { kind: 'description_hash', value: wordsToBytes(words, s, e) } : null;
    case Bolt11Tag.PAYEE:
      return len === 53 ? { kind: 'payee', value: wordsToBytes(words, s, e) } : null;
    case Bolt11Tag.DESCRIPTION:
      try {
        return { kind: 'description', value: UTF8.decode(wordsToBytes(words, s, e)) };
      } catch (err) {
        throw new DecodeError('BOLT11_INVALID_DESCRIPTION', 'description is not valid UTF-8', { cause: err });
      }
    case Bolt11Tag.METADATA:
      return { kind: 'metadata', value: wordsToBytes(words, s, e) };
    case Bolt11Tag.EXPIRY:
      return { kind: 'expiry', value: readMinimalNumber(words, s, e, 'expiry') };
    case Bolt11Tag.MIN_FINAL_CLTV_EXPIRY_DELTA:
      return {
        kind: 'min_final_cltv_expiry_delta',
        value: readMinimalNumber(words, s, e, 'min_final_cltv_expiry_delta'),
      };
    case Bolt11Tag.FEATURES:
      return { kind: 'features', value: featureBitsFromWords(words, s, e) };
    case Bolt11Tag.FALLBACK: {
      // BOLT #11: "MUST skip over `f` fields that use an unknown `version`."
      if (len < 1) return null;
      const version = words[s]!;
      const program = wordsToBytes(words, s + 1, e);
      if (!isValidFallback(version, program)) return null;
      const fb = fallbackAddress(network, version, program);
      return { kind: 'fallback', value: fb };
    }
    case Bolt11Tag.ROUTE_HINT:
      return { kind: 'route_hint', value: parseRouteHint(wordsToBytes(words, s, e)) };
    case Bolt11Tag.BLINDED_PATH:
      return { kind: 'blinded_path', value: parseBlindedPath(wordsToBytes(words, s, e)) };
    default:
      // BOLT #11: "MUST skip over unknown fields".
      return null;
  }
}

/**
 * Parses a BOLT 11 invoice string (either case, no length limit) WITHOUT checking the signature.
 * Enforces: bech32 checksum, known prefix and valid amount, field layout, UTF-8 description,
 * minimal `x`/`c`/`9`, exactly one of `d`/`h`, a `p` field, an `s` field unless blinded paths
 * are present (bLIP-39 forbids `s` with `b`), and no unknown even feature bit.
 * Use {@link decodeInvoice} unless you check the signature yourself.
 */
export function parseInvoice(invoice: string): Bolt11ParsedInvoice {
  const { hrp, words } = bech32DecodeUnlimited(invoice);
  const { network, amountMsat } = parseHrp(hrp);
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS)
    fail(
      'BOLT11_TOO_SHORT',
      'invoice data is too short for a timestamp and a signature',
      `${words.length} words`,
    );
  const end = words.length - SIGNATURE_WORDS;
  const timestamp = wordsToNumber(words, 0, TIMESTAMP_WORDS);

  const inv: Bolt11ParsedInvoice = {
    hrp,
    network,
    amountMsat,
    timestamp,
    paymentHash: new Uint8Array(0),
    paymentSecret: null,
    description: null,
    descriptionHash: null,
    payeeNodeId: null,
    expiry: DEFAULT_EXPIRY_SECONDS,
    minFinalCltvExpiryDelta: DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
    fallbacks: [],
    routeHints: [],
    features: [],
    metadata: null,
    blindedPaths: [],
    fields: [],
    signature: new Uint8Array(0),
    recoveryId: 0,
    signingHash: new Uint8Array(0),
  };
  let havePaymentHash = false;
  let haveDescription = false;
  let haveDescriptionHash = false;
  let haveExpiry = false;
  let haveCltv = false;
  let haveFeatures = false;

  let pos = TIMESTAMP_WORDS;
  while (pos < end) {
    if (end - pos < 3) fail('BOLT11_FIELD_OVERRUN', 'truncated tagged field header');
    const type = words[pos]!;
    const len = words[pos + 1]! * 32 + words[pos + 2]!;
    const s = pos + 3;
    const e = s + len;
    if (e > end)
      fail('BOLT11_FIELD_OVERRUN', 'tagged field runs into the signature', `type ${type}, ${len} words`);
    pos = e;
    const f = decodeField(type, words, s, e, network);
    if (f === null) {
      inv.fields.push({ kind: 'raw', type, words: words.slice(s, e) });
      continue;
    }
    inv.fields.push(f);
    // A writer puts the most-preferred field first; for single-valued fields the first one wins
    // (BOLT #11: "SHOULD use the first `p` field that it did NOT skip as the payment hash").
    switch (f.kind) {
      case 'payment_hash':
        if (!havePaymentHash) inv.paymentHash = f.value;
        havePaymentHash = true;
        break;
      case 'payment_secret':
        if (inv.paymentSecret === null) inv.paymentSecret = f.value;
        break;
      case 'description':
        if (!haveDescription) inv.description = f.value;
        haveDescription = true;
        break;
      case 'description_hash':
        if (!haveDescriptionHash) inv.descriptionHash = f.value;
        haveDescriptionHash = true;
        break;
      case 'payee':
        if (inv.payeeNodeId === null) inv.payeeNodeId = f.value;
        break;
      case 'expiry':
        if (!haveExpiry) inv.expiry = f.value;
        haveExpiry = true;
        break;
      case 'min_final_cltv_expiry_delta':
        if (!haveCltv) inv.minFinalCltvExpiryDelta = f.value;
        haveCltv = true;
        break;
      case 'features':
        if (!haveFeatures) inv.features = f.value.slice().sort((a, b) => a - b);
        haveFeatures = true;
        break;
      case 'metadata':
        if (inv.metadata === null) inv.metadata = f.value;
        break;
      case 'fallback':
        inv.fallbacks.push(f.value as FallbackAddress);
        break;
      case 'route_hint':
        inv.routeHints.push(f.value);
        break;
      case 'blinded_path':
        inv.blindedPaths.push(f.value);
        break;
      /* c8 ignore next 2 */
      case 'raw':
        break;
    }
  }

  if (!havePaymentHash) fail('BOLT11_MISSING_PAYMENT_HASH', 'invoice has no valid payment hash (p)');
  // BOLT #11: "MUST fail the payment if neither a `d` field nor a `h` field is present, or if both are present."
  if (haveDescription && haveDescriptionHash)
    fail('BOLT11_DESCRIPTION_CONFLICT', 'invoice has both a description (d) and a description hash (h)');
  if (!haveDescription && !haveDescriptionHash)
    fail('BOLT11_MISSING_DESCRIPTION', 'invoice has neither a description (d) nor a description hash (h)');
  // BOLT #11: "if a valid `s` field is not provided: MUST fail the payment." bLIP-39: an invoice with
  // `b` fields "MUST not contain the `s` field type", so the rule applies only without blinded paths.
  if (inv.paymentSecret === null && inv.blindedPaths.length === 0)
    fail('BOLT11_MISSING_PAYMENT_SECRET', 'invoice has no valid payment secret (s)');
  // BOLT #11: "if the `9` field contains unknown _even_ bits that are non-zero: MUST fail the payment."
  for (const bit of inv.features) {
    if (bit % 2 === 0 && featureInfo(bit) === undefined)
      fail('BOLT11_UNKNOWN_EVEN_FEATURE_BIT', `invoice requires unknown feature bit ${bit}`, `${bit}`);
  }

  const sig = wordsToBytes(words, end, words.length);
  inv.signature = sig.slice(0, 64);
  inv.recoveryId = sig[64]!;
  inv.signingHash = signingHash(hrp, words, end);
  return inv;
}

/** True if the 64-byte compact signature has s > n/2. */
export function isHighS(signature: Uint8Array): boolean {
  return bytesToBigInt(signature.subarray(32, 64)) > HALF_ORDER;
}

/**
 * Checks the signature of a parsed invoice and returns the payee node id.
 *
 * BOLT #11: "if a valid `n` field is provided: MUST use the `n` field to validate the signature
 * instead of performing public-key recovery. If the signature is not compliant with the low-S
 * standard rule: MUST fail the payment. otherwise: MUST perform ECDSA public-key recovery and
 * accept both high-S and low-S signatures."
 */
export function verifyInvoiceSignature(inv: Bolt11ParsedInvoice): Uint8Array {
  if (inv.payeeNodeId !== null) {
    if (isHighS(inv.signature))
      fail('BOLT11_HIGH_S_SIGNATURE_WITH_PAYEE_FIELD', 'high-S signature on an invoice with an n field');
    if (!secp().verify(inv.signature, inv.signingHash, inv.payeeNodeId, false))
      fail('BOLT11_INVALID_SIGNATURE', 'signature does not verify against the n field');
    return inv.payeeNodeId;
  }
  if (inv.recoveryId > 3)
    fail('BOLT11_SIGNATURE_NOT_RECOVERABLE', 'recovery id out of range', `${inv.recoveryId}`);
  try {
    return secp().recover(inv.signature, inv.recoveryId, inv.signingHash);
  } catch (e) {
    throw new DecodeError('BOLT11_SIGNATURE_NOT_RECOVERABLE', 'public key recovery failed', { cause: e });
  }
}

/**
 * Decodes and authenticates a BOLT 11 invoice: {@link parseInvoice} then
 * {@link verifyInvoiceSignature}. Throws only {@link DecodeError}.
 */
export function decodeInvoice(invoice: string): Bolt11Invoice {
  const inv = parseInvoice(invoice);
  const payee = verifyInvoiceSignature(inv);
  return { ...inv, payee };
}

/** What {@link encodeInvoice} needs: network, optional amount, timestamp and the ordered fields. */
export interface Bolt11EncodeInput {
  network: Bolt11Network;
  /** Amount in msat; null/absent for "any amount". Must be a whole number of msat > 0. */
  amountMsat?: bigint | null;
  /** Seconds since the epoch (35 bits). The caller supplies the clock. */
  timestamp: number;
  /** Tagged fields in the order they are written (most preferred first for repeated types). */
  fields: Bolt11Field[];
}

/** Encoding options. */
export interface Bolt11EncodeOptions {
  /** Emit the upper-case form (BOLT 11: "SHOULD use upper case for QR codes"). Default false. */
  uppercase?: boolean;
}

function field(type: number, data: Uint8Array): Uint8Array {
  if (data.length > MAX_FIELD_WORDS)
    throw new InvalidArgumentError(
      `tagged field ${type} is ${data.length} words; the maximum is ${MAX_FIELD_WORDS}`,
    );
  const out = new Uint8Array(3 + data.length);
  out[0] = type;
  out[1] = data.length >> 5;
  out[2] = data.length & 31;
  out.set(data, 3);
  return out;
}

function fixedBytes(v: Uint8Array, n: number, what: string): Uint8Array {
  if (v.length !== n) throw new InvalidArgumentError(`${what} must be ${n} bytes`);
  return bytesToWords(v);
}

/**
 * Encodes one tagged field as 5-bit words: `type`, 10-bit `data_length`, data (zero-padded to a
 * multiple of 5 bits). Throws InvalidArgumentError on values a writer must not produce.
 */
export function encodeBolt11Field(f: Bolt11Field): Uint8Array {
  switch (f.kind) {
    case 'payment_hash':
      return field(Bolt11Tag.PAYMENT_HASH, fixedBytes(f.value, 32, 'payment_hash'));
    case 'payment_secret':
      return field(Bolt11Tag.PAYMENT_SECRET, fixedBytes(f.value, 32, 'payment_secret'));
    case 'description_hash':
      return field(Bolt11Tag.DESCRIPTION_HASH, fixedBytes(f.value, 32, 'description_hash'));
    case 'payee':
      return field(Bolt11Tag.PAYEE, fixedBytes(f.value, 33, 'payee'));
    case 'description':
      return field(Bolt11Tag.DESCRIPTION, bytesToWords(utf8(f.value)));
    case 'metadata':
      return field(Bolt11Tag.METADATA, bytesToWords(f.value));
    case 'expiry':
      return field(Bolt11Tag.EXPIRY, numberToWords(f.value));
    case 'min_final_cltv_expiry_delta':
      return field(Bolt11Tag.MIN_FINAL_CLTV_EXPIRY_DELTA, numberToWords(f.value));
    case 'features':
      return field(Bolt11Tag.FEATURES, featureWordsFromBits(f.value));
    case 'fallback': {
      const { version, program } = f.value;
      if (!isValidFallback(version, program))
        throw new InvalidArgumentError(`invalid fallback: version ${version}, ${program.length} bytes`);
      const w = bytesToWords(program);
      const data = new Uint8Array(1 + w.length);
      data[0] = version;
      data.set(w, 1);
      return field(Bolt11Tag.FALLBACK, data);
    }
    case 'route_hint': {
      if (f.value.length === 0) throw new InvalidArgumentError('route hint needs at least one hop');
      const w = new Writer(51 * f.value.length);
      for (const h of f.value) {
        if (h.pubkey.length !== 33) throw new InvalidArgumentError('route hint pubkey must be 33 bytes');
        w.bytes(h.pubkey).u64(h.shortChannelId).u32(h.feeBaseMsat).u32(h.feeProportionalMillionths);
        w.u16(h.cltvExpiryDelta);
      }
      return field(Bolt11Tag.ROUTE_HINT, bytesToWords(w.finish()));
    }
    case 'blinded_path': {
      const p = f.value;
      if (p.hops.length < 1 || p.hops.length > 255)
        throw new InvalidArgumentError('blinded path needs 1..255 hops');
      if (p.firstEphemeralBlindingPoint.length !== 33)
        throw new InvalidArgumentError('blinding point must be 33 bytes');
      const w = new Writer();
      w.u32(p.feeBaseMsat).u32(p.feeProportionalMillionths).u16(p.cltvExpiryDelta);
      w.u64(p.htlcMinimumMsat).u64(p.htlcMaximumMsat).u16(p.features.length).bytes(p.features);
      w.bytes(p.firstEphemeralBlindingPoint).u8(p.hops.length);
      for (const h of p.hops) {
        if (h.blindedNodeId.length !== 33) throw new InvalidArgumentError('blinded node id must be 33 bytes');
        w.bytes(h.blindedNodeId).bigsize(BigInt(h.encryptedData.length)).bytes(h.encryptedData);
      }
      return field(Bolt11Tag.BLINDED_PATH, bytesToWords(w.finish()));
    }
    case 'raw':
      if (!Number.isInteger(f.type) || f.type < 0 || f.type > 31)
        throw new InvalidArgumentError('raw field type must be 0..31');
      for (const x of f.words) if (x > 31) throw new InvalidArgumentError('raw field words must be 5-bit');
      return field(f.type, f.words);
  }
}

/**
 * Encodes and signs an invoice with `privKey` (RFC 6979 deterministic, low-S, with recovery id),
 * returning the bech32 string. The signer's public key is the payee; if an `n` field is included
 * it MUST equal `secp().publicKey(privKey)` (checked).
 *
 * Writer obligations checked here (violations throw InvalidArgumentError): exactly one
 * `payment_hash`; exactly one of `description`/`description_hash`; a `payment_secret` unless
 * blinded paths are present (and none with them, bLIP-39); timestamp within 35 bits.
 */
export function encodeInvoice(
  input: Bolt11EncodeInput,
  privKey: Uint8Array,
  opts: Bolt11EncodeOptions = {},
): string {
  const { network, timestamp, fields } = input;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp >= 2 ** 35)
    throw new InvalidArgumentError('timestamp must be an integer in [0, 2^35)');
  const count = (k: Bolt11Field['kind']) => fields.filter((f) => f.kind === k).length;
  if (count('payment_hash') !== 1)
    throw new InvalidArgumentError('an invoice needs exactly one payment_hash');
  if (count('description') + count('description_hash') !== 1)
    throw new InvalidArgumentError('an invoice needs exactly one description or description_hash');
  const blinded = count('blinded_path') > 0;
  if (!blinded && count('payment_secret') !== 1)
    throw new InvalidArgumentError('an invoice needs exactly one payment_secret');
  if (blinded && count('payment_secret') !== 0)
    throw new InvalidArgumentError(
      'bLIP-39: an invoice with blinded paths must not contain a payment_secret',
    );
  const pub = secp().publicKey(privKey);
  for (const f of fields) {
    if (f.kind === 'payee' && !equal(f.value, pub))
      throw new InvalidArgumentError('the n field must be the public key of the signing key');
  }

  const hrp = formatHrp(network, input.amountMsat ?? null);
  const parts: Uint8Array[] = [numberToFixedWords(timestamp, TIMESTAMP_WORDS)];
  for (const f of fields) parts.push(encodeBolt11Field(f));
  let n = SIGNATURE_WORDS;
  for (const p of parts) n += p.length;
  const words = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    words.set(p, o);
    o += p.length;
  }
  const digest = signingHash(hrp, words, o);
  const { signature, recovery } = secp().signRecoverable(digest, privKey);
  const sig = new Uint8Array(65);
  sig.set(signature, 0);
  sig[64] = recovery;
  words.set(bytesToWords(sig), o);
  const out = bech32EncodeUnlimited(hrp, words);
  return opts.uppercase ? out.toUpperCase() : out;
}

function numberToFixedWords(v: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = v % 32;
    v = Math.floor(v / 32);
  }
  return out;
}

/** Seconds since the epoch at which the invoice expires (`timestamp + expiry`). */
export function invoiceExpiresAt(inv: Pick<Bolt11ParsedInvoice, 'timestamp' | 'expiry'>): number {
  return inv.timestamp + inv.expiry;
}

/** BOLT 11 payer rule: "after the `timestamp` plus `expiry` has passed: SHOULD NOT attempt a payment". `now` in seconds. */
export function isInvoiceExpired(
  inv: Pick<Bolt11ParsedInvoice, 'timestamp' | 'expiry'>,
  now: number,
): boolean {
  return now >= invoiceExpiresAt(inv);
}
