/**
 * Versioned serialisation of {@link MonitorState}: UTF-8 JSON with tagged values
 * (`{"$n":"123"}` bigint, `{"$b":"hex"}` bytes). Decoding checks the version and the shape of
 * every top-level field and throws only {@link DecodeError} (`MONITOR_STATE_INVALID`,
 * `MONITOR_STATE_VERSION`).
 */
import { fromHex, fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';
import type { MonitorState } from './types.js';

/** Current format version. */
export const MONITOR_STATE_VERSION = 1;

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) return { $b: toHex(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (Object.keys(o).length === 1) {
      if (typeof o.$n === 'string') {
        if (!/^-?\d+$/.test(o.$n)) throw new DecodeError('MONITOR_STATE_INVALID', 'bad bigint');
        return BigInt(o.$n);
      }
      if (typeof o.$b === 'string') return fromHex(o.$b);
    }
  }
  return value;
}

/** Serialises a monitor state. */
export function encodeMonitorState(state: MonitorState): Uint8Array {
  return utf8(JSON.stringify({ v: MONITOR_STATE_VERSION, state }, replacer));
}

function bad(what: string): DecodeError {
  return new DecodeError('MONITOR_STATE_INVALID', `invalid monitor state: ${what}`);
}

const isArr = (x: unknown): x is unknown[] => Array.isArray(x);
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !isArr(x);

/** Parses {@link encodeMonitorState}'s output; throws only DecodeError. */
export function decodeMonitorState(bytes: Uint8Array): MonitorState {
  return asDecodeError('MONITOR_STATE_INVALID', 'invalid monitor state', () => {
    const parsed = JSON.parse(fromUtf8(bytes), reviver) as unknown;
    if (!isObj(parsed)) throw bad('not an object');
    if (parsed.v !== MONITOR_STATE_VERSION)
      throw new DecodeError('MONITOR_STATE_VERSION', `unsupported monitor state version ${String(parsed.v)}`);
    const s = parsed.state;
    if (!isObj(s) || s.version !== 1) throw bad('state');
    if (s.funded !== undefined && !(isObj(s.funded) && s.funded.type === 'ChannelFunded'))
      throw bad('funded');
    if (s.destinationScript !== undefined && !isBytes(s.destinationScript)) throw bad('destinationScript');
    for (const k of ['locals', 'remotes', 'revoked', 'preimages', 'mutualCloseTxids', 'chainTxs', 'reported'])
      if (!isArr(s[k])) throw bad(k);
    if (!(s.locals as unknown[]).every((l) => isObj(l) && l.type === 'LocalCommitment')) throw bad('locals');
    if (!(s.remotes as unknown[]).every((r) => isObj(r) && r.type === 'RemoteCommitment'))
      throw bad('remotes');
    if (
      !(s.revoked as unknown[]).every(
        (r) =>
          isObj(r) &&
          typeof r.commitmentNumber === 'number' &&
          isBytes(r.perCommitmentSecret) &&
          r.perCommitmentSecret.length === 32 &&
          isArr(r.htlcs),
      )
    )
      throw bad('revoked');
    if (!(s.preimages as unknown[]).every((p) => isBytes(p) && p.length === 32)) throw bad('preimages');
    if (!(s.mutualCloseTxids as unknown[]).every((p) => isBytes(p) && p.length === 32))
      throw bad('mutualCloseTxids');
    if (
      !(s.chainTxs as unknown[]).every(
        (c) =>
          isObj(c) && typeof c.height === 'number' && isBytes(c.txid) && isObj(c.tx) && isArr(c.tx.inputs),
      )
    )
      throw bad('chainTxs');
    if (!(s.reported as unknown[]).every((r) => typeof r === 'string')) throw bad('reported');
    if (typeof s.broadcastLocal !== 'boolean' || typeof s.resolved !== 'boolean') throw bad('flags');
    if (typeof s.height !== 'number' || !Number.isInteger(s.height)) throw bad('height');
    return s as unknown as MonitorState;
  });
}
