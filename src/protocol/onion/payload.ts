/**
 * BOLT #4 payment hop payload (04-onion-routing.md, "`payload` format"): the `payload` TLV
 * stream each hop finds in its onion layer, plus the keysend preimage custom record
 * (type 5482373484, bLIP-3).
 */
import { secp } from '../crypto/secp256k1.js';
import { Reader } from '../encoding/reader.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../encoding/tlv.js';
import { encodeBigSize, Writer } from '../encoding/writer.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';

/** TLV types of the payment `payload` stream. */
export const PayloadType = {
  amtToForward: 2n,
  outgoingCltvValue: 4n,
  shortChannelId: 6n,
  paymentData: 8n,
  encryptedRecipientData: 10n,
  currentPathKey: 12n,
  paymentMetadata: 16n,
  totalAmountMsat: 18n,
  /** Keysend preimage custom record (bLIP-3). */
  keysendPreimage: 5482373484n,
} as const;

/** `payment_data`: the invoice's payment secret and the total amount of the (MPP) payment. */
export interface PaymentData {
  /** 32 bytes. */
  paymentSecret: Uint8Array;
  totalMsat: bigint;
}

/** A decoded payment hop payload. Absent fields are `undefined`. */
export interface PaymentHopPayload {
  /** `amt_to_forward` (tu64, msat). */
  amtToForward?: bigint;
  /** `outgoing_cltv_value` (tu32). */
  outgoingCltvValue?: number;
  /** `short_channel_id` of the outgoing channel (u64 form). */
  shortChannelId?: bigint;
  paymentData?: PaymentData;
  /** Opaque `encrypted_recipient_data` for a blinded hop. */
  encryptedRecipientData?: Uint8Array;
  /** `current_path_key` (33-byte point) for the introduction node of a blinded path. */
  currentPathKey?: Uint8Array;
  paymentMetadata?: Uint8Array;
  /** `total_amount_msat` (tu64), used by final nodes of blinded paths. */
  totalAmountMsat?: bigint;
  /** 32-byte keysend preimage (custom record 5482373484). */
  keysendPreimage?: Uint8Array;
  /** Other (odd, or custom >= 2^16) records, in type order. */
  extra?: TlvRecord[];
}

const KNOWN = new Set<bigint>(Object.values(PayloadType));

/** Encodes a payment hop payload as a TLV stream (without the BigSize length prefix). */
export function encodePaymentPayload(p: PaymentHopPayload): Uint8Array {
  const recs: TlvRecord[] = [];
  const w = () => new Writer(16);
  if (p.amtToForward !== undefined)
    recs.push({ type: PayloadType.amtToForward, value: w().truncated(p.amtToForward, 8).finish() });
  if (p.outgoingCltvValue !== undefined)
    recs.push({
      type: PayloadType.outgoingCltvValue,
      value: w().truncated(BigInt(p.outgoingCltvValue), 4).finish(),
    });
  if (p.shortChannelId !== undefined)
    recs.push({ type: PayloadType.shortChannelId, value: w().u64(p.shortChannelId).finish() });
  if (p.paymentData !== undefined) {
    if (p.paymentData.paymentSecret.length !== 32)
      throw new InvalidArgumentError('payment_secret must be 32 bytes');
    recs.push({
      type: PayloadType.paymentData,
      value: w().bytes(p.paymentData.paymentSecret).truncated(p.paymentData.totalMsat, 8).finish(),
    });
  }
  if (p.encryptedRecipientData !== undefined)
    recs.push({ type: PayloadType.encryptedRecipientData, value: p.encryptedRecipientData });
  if (p.currentPathKey !== undefined) {
    if (p.currentPathKey.length !== 33) throw new InvalidArgumentError('current_path_key must be 33 bytes');
    recs.push({ type: PayloadType.currentPathKey, value: p.currentPathKey });
  }
  if (p.paymentMetadata !== undefined)
    recs.push({ type: PayloadType.paymentMetadata, value: p.paymentMetadata });
  if (p.totalAmountMsat !== undefined)
    recs.push({ type: PayloadType.totalAmountMsat, value: w().truncated(p.totalAmountMsat, 8).finish() });
  if (p.keysendPreimage !== undefined) {
    if (p.keysendPreimage.length !== 32) throw new InvalidArgumentError('keysend preimage must be 32 bytes');
    recs.push({ type: PayloadType.keysendPreimage, value: p.keysendPreimage });
  }
  for (const r of p.extra ?? []) {
    if (KNOWN.has(r.type)) throw new InvalidArgumentError(`extra record uses known type ${r.type}`);
    recs.push(r);
  }
  return encodeTlvStream(recs);
}

/** A TLV decode failure narrowed down to one record (for `invalid_onion_payload`). */
export class PayloadRecordError extends DecodeError {
  override name = 'PayloadRecordError';
  constructor(
    code: string,
    shortMessage: string,
    /** Offending TLV type. */
    readonly tlvType: bigint,
    /** Byte offset of the record in the payload. */
    readonly offset: number,
    cause?: unknown,
  ) {
    super(code, shortMessage, { details: `type ${tlvType} at offset ${offset}`, cause });
  }
}

/** Walks decoded records yielding each with its byte offset in the stream. */
export function* withOffsets(records: readonly TlvRecord[]): Generator<[TlvRecord, number]> {
  let off = 0;
  for (const r of records) {
    yield [r, off];
    off += encodeBigSize(r.type).length + encodeBigSize(BigInt(r.value.length)).length + r.value.length;
  }
}

function field<T>(rec: TlvRecord, off: number, fn: (r: Reader) => T): T {
  try {
    const r = new Reader(rec.value);
    const v = fn(r);
    if (!r.done) throw new DecodeError('TLV_TRAILING', 'trailing bytes in TLV value');
    return v;
  } catch (e) {
    throw new PayloadRecordError(
      'PAYLOAD_FIELD_INVALID',
      `invalid payload field ${rec.type}`,
      rec.type,
      off,
      e,
    );
  }
}

/**
 * Decodes a payment hop payload TLV stream. Unknown even types fail (`TLV_UNKNOWN_EVEN`, as a
 * {@link PayloadRecordError} with the type and offset); malformed known fields fail with
 * `PAYLOAD_FIELD_INVALID`. Semantic checks (which fields a forwarding or final hop needs)
 * are the caller's.
 */
export function decodePaymentPayload(bytes: Uint8Array): PaymentHopPayload {
  const recs = decodeTlvStream(bytes);
  const p: PaymentHopPayload = {};
  const extra: TlvRecord[] = [];
  for (const [rec, off] of withOffsets(recs)) {
    switch (rec.type) {
      case PayloadType.amtToForward:
        p.amtToForward = field(rec, off, (r) => r.truncated(8));
        break;
      case PayloadType.outgoingCltvValue:
        p.outgoingCltvValue = Number(field(rec, off, (r) => r.truncated(4)));
        break;
      case PayloadType.shortChannelId:
        p.shortChannelId = field(rec, off, (r) => r.u64());
        break;
      case PayloadType.paymentData:
        p.paymentData = field(rec, off, (r) => ({
          paymentSecret: r.bytes(32).slice(),
          totalMsat: r.truncated(8),
        }));
        break;
      case PayloadType.encryptedRecipientData:
        p.encryptedRecipientData = rec.value.slice();
        break;
      case PayloadType.currentPathKey:
        p.currentPathKey = field(rec, off, (r) => {
          const k = r.bytes(33).slice();
          if (!secp().isPoint(k)) throw new DecodeError('POINT_INVALID', 'current_path_key is not a point');
          return k;
        });
        break;
      case PayloadType.paymentMetadata:
        p.paymentMetadata = rec.value.slice();
        break;
      case PayloadType.totalAmountMsat:
        p.totalAmountMsat = field(rec, off, (r) => r.truncated(8));
        break;
      case PayloadType.keysendPreimage:
        p.keysendPreimage = field(rec, off, (r) => r.bytes(32).slice());
        break;
      default:
        if (rec.type % 2n === 0n)
          throw new PayloadRecordError(
            'TLV_UNKNOWN_EVEN',
            `unknown even payload type ${rec.type}`,
            rec.type,
            off,
          );
        extra.push({ type: rec.type, value: rec.value.slice() });
    }
  }
  if (extra.length > 0) p.extra = extra;
  return p;
}

/** Context of {@link checkPaymentPayload}. */
export interface PayloadContext {
  /** True when this node is the final destination of the onion. */
  isFinal: boolean;
  /** True when `path_key` was set in the incoming `update_add_htlc`. */
  hasPathKey: boolean;
}

/** Result of {@link checkPaymentPayload}: `ok`, or the reason and (when known) the offending type. */
export type PayloadCheck = { ok: true } | { ok: false; reason: string; tlvType?: bigint };

const BLINDED_RELAY_TYPES = new Set<bigint>([PayloadType.encryptedRecipientData, PayloadType.currentPathKey]);
const BLINDED_FINAL_TYPES = new Set<bigint>([
  PayloadType.encryptedRecipientData,
  PayloadType.currentPathKey,
  PayloadType.amtToForward,
  PayloadType.outgoingCltvValue,
  PayloadType.totalAmountMsat,
]);

function presentTypes(p: PaymentHopPayload): bigint[] {
  const t: bigint[] = [];
  const T = PayloadType;
  if (p.amtToForward !== undefined) t.push(T.amtToForward);
  if (p.outgoingCltvValue !== undefined) t.push(T.outgoingCltvValue);
  if (p.shortChannelId !== undefined) t.push(T.shortChannelId);
  if (p.paymentData !== undefined) t.push(T.paymentData);
  if (p.encryptedRecipientData !== undefined) t.push(T.encryptedRecipientData);
  if (p.currentPathKey !== undefined) t.push(T.currentPathKey);
  if (p.paymentMetadata !== undefined) t.push(T.paymentMetadata);
  if (p.totalAmountMsat !== undefined) t.push(T.totalAmountMsat);
  if (p.keysendPreimage !== undefined) t.push(T.keysendPreimage);
  for (const r of p.extra ?? []) t.push(r.type);
  return t.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Checks the structural reader requirements of BOLT #4 "`payload` format" (which fields a
 * blinded / unblinded, forwarding / final hop must or must not have). A failure maps to
 * `invalid_onion_payload` (or `invalid_onion_blinding` inside a blinded route). Amount, CLTV,
 * payment-secret and feature checks need node state and are the caller's.
 */
export function checkPaymentPayload(p: PaymentHopPayload, ctx: PayloadContext): PayloadCheck {
  const T = PayloadType;
  if (p.encryptedRecipientData !== undefined) {
    if (ctx.hasPathKey && p.currentPathKey !== undefined)
      return { ok: false, reason: 'current_path_key with a path_key', tlvType: T.currentPathKey };
    if (!ctx.hasPathKey && p.currentPathKey === undefined)
      return { ok: false, reason: 'blinded payload without a path key', tlvType: T.currentPathKey };
    const allowed = ctx.isFinal ? BLINDED_FINAL_TYPES : BLINDED_RELAY_TYPES;
    for (const t of presentTypes(p))
      if (!allowed.has(t))
        return { ok: false, reason: `type ${t} not allowed in a blinded payload`, tlvType: t };
    if (ctx.isFinal) {
      if (p.amtToForward === undefined)
        return { ok: false, reason: 'missing amt_to_forward', tlvType: T.amtToForward };
      if (p.outgoingCltvValue === undefined)
        return { ok: false, reason: 'missing outgoing_cltv_value', tlvType: T.outgoingCltvValue };
      if (p.totalAmountMsat === undefined)
        return { ok: false, reason: 'missing total_amount_msat', tlvType: T.totalAmountMsat };
    }
    return { ok: true };
  }
  // BOLT #4: Otherwise (it is not part of a blinded route): MUST return an error if `path_key`
  // is set in the incoming `update_add_htlc` or `current_path_key` is present.
  if (ctx.hasPathKey) return { ok: false, reason: 'path_key without encrypted_recipient_data' };
  if (p.currentPathKey !== undefined)
    return { ok: false, reason: 'current_path_key outside a blinded route', tlvType: T.currentPathKey };
  if (p.amtToForward === undefined)
    return { ok: false, reason: 'missing amt_to_forward', tlvType: T.amtToForward };
  if (p.outgoingCltvValue === undefined)
    return { ok: false, reason: 'missing outgoing_cltv_value', tlvType: T.outgoingCltvValue };
  if (!ctx.isFinal) {
    if (p.shortChannelId === undefined)
      return { ok: false, reason: 'missing short_channel_id', tlvType: T.shortChannelId };
    if (p.paymentData !== undefined)
      return { ok: false, reason: 'payment_data at a forwarding hop', tlvType: T.paymentData };
  }
  return { ok: true };
}
