/**
 * Versioned serialisation of {@link MonitorState} and of archived revoked commitments
 * ({@link encodeRevokedArchive}).
 *
 * - Written (version 2): byte `0x02`, then the value as a binary tree
 *   (src/protocol/encoding/record.ts; the BOLT #3 shachain store as its own compact encoding,
 *   extension id 1). Commitment data that keeps its identity between states (the stored
 *   commitments' transactions, specs and HTLC lists) is encoded once and its bytes reused.
 * - Read as well (version 1): UTF-8 JSON with tagged values (`{"$n":"123"}` bigint,
 *   `{"$b":"hex"}` bytes, `{"$sc":"hex"}` shachain store), as written before.
 *
 * Decoding checks the version and the shape of every top-level field and throws only
 * {@link DecodeError} (`MONITOR_STATE_INVALID`, `MONITOR_STATE_VERSION`).
 */
import { fromUtf8, toHex, utf8 } from '../../protocol/encoding/bytes.js';
import { decodeTree, encodeTree, type TreeMemo } from '../../protocol/encoding/record.js';
import { asDecodeError, DecodeError } from '../../protocol/errors.js';
import { ShachainStore } from '../../protocol/keys/shachain.js';
import { legacyJsonReviver, SHACHAIN_EXTENSION } from '../channel/serialize.js';
import type { SpecHtlc } from '../channel/types.js';
import type { ArchivedRevoked, MonitorState } from './types.js';

/** Version of the legacy JSON format ({@link encodeMonitorStateJson}), still read. */
export const MONITOR_STATE_VERSION = 1;

/** Current binary format version: the first byte of {@link encodeMonitorState}'s output. */
export const MONITOR_STATE_BINARY_VERSION = 2;

const EXTENSIONS = [SHACHAIN_EXTENSION];

/**
 * Subtrees of a monitor state that keep their identity, unchanged, across states: the channel's
 * commitment updates (and the revoked entries' HTLC lists, shared with them). The monitor never
 * mutates a state object or an update it was given (every step builds new objects).
 */
const MEMO: TreeMemo = {
  cache: new WeakMap(),
  keys: new Set(['commitTx', 'htlcTxs', 'htlcOutputs', 'spec', 'keys', 'htlcs', 'funded']),
};

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array) return { $b: toHex(value) };
  if (value instanceof ShachainStore) return { $sc: toHex(value.encode()) };
  return value;
}

const reviver = legacyJsonReviver('MONITOR_STATE_INVALID');

/** Serialises a monitor state (binary, version {@link MONITOR_STATE_BINARY_VERSION}). */
export function encodeMonitorState(state: MonitorState): Uint8Array {
  return encodeTree(state, { header: MONITOR_STATE_BINARY_VERSION, extensions: EXTENSIONS, memo: MEMO });
}

/** Serialises a monitor state in the legacy JSON format (version 1; tests and tools). */
export function encodeMonitorStateJson(state: MonitorState): Uint8Array {
  return utf8(JSON.stringify({ v: MONITOR_STATE_VERSION, state }, replacer));
}

function bad(what: string): DecodeError {
  return new DecodeError('MONITOR_STATE_INVALID', `invalid monitor state: ${what}`);
}

const isArr = (x: unknown): x is unknown[] => Array.isArray(x);
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isObj = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !isArr(x);

/**
 * Parses {@link encodeMonitorState}'s output or a version 1 JSON state
 * ({@link encodeMonitorStateJson}); throws only DecodeError.
 */
export function decodeMonitorState(bytes: Uint8Array): MonitorState {
  return asDecodeError('MONITOR_STATE_INVALID', 'invalid monitor state', () => {
    if (bytes[0] === MONITOR_STATE_BINARY_VERSION)
      return checkState(
        decodeTree(bytes, { offset: 1, code: 'MONITOR_STATE_INVALID', extensions: EXTENSIONS }),
      );
    const parsed = JSON.parse(fromUtf8(bytes), reviver) as unknown;
    if (!isObj(parsed)) throw bad('not an object');
    if (parsed.v !== MONITOR_STATE_VERSION)
      throw new DecodeError('MONITOR_STATE_VERSION', `unsupported monitor state version ${String(parsed.v)}`);
    return checkState(parsed.state);
  });
}

/** The shape checks of a decoded state (either format). */
function checkState(s: unknown): MonitorState {
  if (!isObj(s) || s.version !== 1) throw bad('state');
  if (s.funded !== undefined && !(isObj(s.funded) && s.funded.type === 'ChannelFunded')) throw bad('funded');
  if (s.destinationScript !== undefined && !isBytes(s.destinationScript)) throw bad('destinationScript');
  for (const k of ['locals', 'remotes', 'revoked', 'preimages', 'mutualCloseTxids', 'chainTxs', 'reported'])
    if (!isArr(s[k])) throw bad(k);
  if (!(s.locals as unknown[]).every((l) => isObj(l) && l.type === 'LocalCommitment')) throw bad('locals');
  if (!(s.remotes as unknown[]).every((r) => isObj(r) && r.type === 'RemoteCommitment')) throw bad('remotes');
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
      (c) => isObj(c) && typeof c.height === 'number' && isBytes(c.txid) && isObj(c.tx) && isArr(c.tx.inputs),
    )
  )
    throw bad('chainTxs');
  if (!(s.reported as unknown[]).every((r) => typeof r === 'string')) throw bad('reported');
  if (typeof s.broadcastLocal !== 'boolean' || typeof s.resolved !== 'boolean') throw bad('flags');
  if (typeof s.height !== 'number' || !Number.isInteger(s.height)) throw bad('height');
  // States written before the compact secret store existed have none.
  if (s.secrets === undefined) s.secrets = undefined;
  else if (!(s.secrets instanceof ShachainStore)) throw bad('secrets');
  return s as unknown as MonitorState;
}

const isHtlc = (h: unknown): h is SpecHtlc =>
  isObj(h) &&
  (h.direction === 'offered' || h.direction === 'received') &&
  typeof h.id === 'bigint' &&
  typeof h.amountMsat === 'bigint' &&
  isBytes(h.paymentHash) &&
  h.paymentHash.length === 32 &&
  typeof h.cltvExpiry === 'number';

/**
 * Serialises archived revoked commitments (one cold-storage record): byte `0x02` then the binary
 * tree `{htlcs: [SpecHtlc...], entries: [[n, secret|null, [htlc index...]]...]}` — an HTLC
 * present in several consecutive commitments is stored once. (Version 1 was the same as UTF-8
 * JSON with `"v":1`, see {@link encodeRevokedArchiveJson}; both are read.)
 */
export function encodeRevokedArchive(entries: readonly ArchivedRevoked[]): Uint8Array {
  const { htlcs, rows } = archiveRows(entries);
  return encodeTree({ htlcs, entries: rows }, { header: MONITOR_STATE_BINARY_VERSION });
}

/** {@link encodeRevokedArchive} in the legacy JSON format (tests and tools). */
export function encodeRevokedArchiveJson(entries: readonly ArchivedRevoked[]): Uint8Array {
  const { htlcs, rows } = archiveRows(entries);
  return utf8(JSON.stringify({ v: 1, htlcs, entries: rows }, replacer));
}

function archiveRows(entries: readonly ArchivedRevoked[]): {
  htlcs: SpecHtlc[];
  rows: Array<[number, Uint8Array | null, number[]]>;
} {
  const htlcs: SpecHtlc[] = [];
  const index = new Map<string, number>();
  const rows = entries.map((e): [number, Uint8Array | null, number[]] => [
    e.commitmentNumber,
    e.perCommitmentSecret ?? null,
    e.htlcs.map((h) => {
      const k = `${h.direction}:${h.id}:${toHex(h.paymentHash)}:${h.amountMsat}:${h.cltvExpiry}`;
      let i = index.get(k);
      if (i === undefined) {
        i = htlcs.length;
        htlcs.push(h);
        index.set(k, i);
      }
      return i;
    }),
  ]);
  return { htlcs, rows };
}

/** Parses {@link encodeRevokedArchive}'s output; throws only DecodeError `MONITOR_STATE_INVALID`. */
export function decodeRevokedArchive(bytes: Uint8Array): ArchivedRevoked[] {
  return asDecodeError('MONITOR_STATE_INVALID', 'invalid revoked archive', () => {
    const binary = bytes[0] === MONITOR_STATE_BINARY_VERSION;
    const p = binary
      ? decodeTree(bytes, { offset: 1, code: 'MONITOR_STATE_INVALID' })
      : (JSON.parse(fromUtf8(bytes), reviver) as unknown);
    if (!isObj(p) || (!binary && p.v !== 1) || !isArr(p.htlcs) || !isArr(p.entries))
      throw bad('revoked archive');
    const htlcs = p.htlcs;
    if (!htlcs.every(isHtlc)) throw bad('revoked archive htlcs');
    return p.entries.map((row) => {
      if (!isArr(row) || row.length !== 3) throw bad('revoked archive entry');
      const [n, secret, idx] = row;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad('revoked archive number');
      if (secret !== null && !(isBytes(secret) && secret.length === 32)) throw bad('revoked archive secret');
      if (!isArr(idx)) throw bad('revoked archive indexes');
      return {
        commitmentNumber: n,
        perCommitmentSecret: secret ?? undefined,
        htlcs: idx.map((i) => {
          const h = typeof i === 'number' ? htlcs[i] : undefined;
          if (!h) throw bad('revoked archive index');
          return h;
        }),
      };
    });
  });
}
