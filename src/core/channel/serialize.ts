/**
 * Versioned serialisation of {@link ChannelState} for persistence: UTF-8 JSON with tagged
 * values (`{"$n":"123"}` bigint, `{"$b":"hex"}` bytes, `{"$sc":"hex"}` shachain store).
 * Decoding throws only {@link DecodeError} (`CHANNEL_STATE_INVALID`).
 */
import { fromHex, fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';
import { ShachainStore } from '../../protocol/keys/shachain.js';
import type { ChannelState } from './state.js';

/** Current format version. */
export const CHANNEL_STATE_VERSION = 1;

const KINDS = new Set([
  'WaitForOpenChannel',
  'WaitForAcceptChannel',
  'WaitForFundingTx',
  'WaitForFundingCreated',
  'WaitForFundingSigned',
  'WaitForFundingConfirmed',
  'WaitForChannelReady',
  'Normal',
  'Shutdown',
  'Negotiating',
  'Offline',
  'Closing',
  'Closed',
]);

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) return { $b: toHex(value) };
  if (value instanceof ShachainStore) return { $sc: toHex(value.encode()) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if (typeof o.$n === 'string') {
        if (!/^-?\d+$/.test(o.$n)) throw new DecodeError('CHANNEL_STATE_INVALID', 'bad bigint');
        return BigInt(o.$n);
      }
      if (typeof o.$b === 'string') return fromHex(o.$b);
      if (typeof o.$sc === 'string') return ShachainStore.decode(fromHex(o.$sc));
    }
  }
  return value;
}

/** Serialises a channel state (any kind) to bytes. */
export function encodeChannelState(state: ChannelState): Uint8Array {
  return utf8(JSON.stringify({ v: CHANNEL_STATE_VERSION, state }, replacer));
}

/**
 * Parses {@link encodeChannelState}'s output. Checks the version and the state kind; throws
 * only DecodeError `CHANNEL_STATE_INVALID` (or `CHANNEL_STATE_VERSION`).
 */
export function decodeChannelState(bytes: Uint8Array): ChannelState {
  return asDecodeError('CHANNEL_STATE_INVALID', 'invalid channel state', () => {
    const parsed = JSON.parse(fromUtf8(bytes), reviver) as unknown;
    if (parsed === null || typeof parsed !== 'object')
      throw new DecodeError('CHANNEL_STATE_INVALID', 'not an object');
    const o = parsed as { v?: unknown; state?: unknown };
    if (o.v !== CHANNEL_STATE_VERSION)
      throw new DecodeError('CHANNEL_STATE_VERSION', `unsupported channel state version ${String(o.v)}`);
    const st = o.state as { kind?: unknown } | null;
    if (st === null || typeof st !== 'object' || typeof st.kind !== 'string' || !KINDS.has(st.kind))
      throw new DecodeError('CHANNEL_STATE_INVALID', 'unknown channel state kind');
    if (st.kind === 'Offline') {
      const inner = (st as { inner?: { kind?: unknown } }).inner;
      if (!inner || typeof inner.kind !== 'string' || !KINDS.has(inner.kind))
        throw new DecodeError('CHANNEL_STATE_INVALID', 'bad offline inner state');
    }
    return st as ChannelState;
  });
}
