/**
 * Versioned serialisation of {@link ChannelState} for persistence.
 *
 * - Version 2 (written): byte `0x02`, then the state as a binary tree
 *   (src/protocol/encoding/record.ts) with the shachain store as extension 1 (its own
 *   {@link ShachainStore.encode} bytes). `undefined`-valued fields are kept as such.
 * - Version 1 (read only, older data dirs): UTF-8 JSON `{"v":1,"state":...}` with tagged values
 *   (`{"$n":"123"}` bigint, `{"$b":"hex"}` bytes, `{"$sc":"hex"}` shachain store); JSON dropped
 *   `undefined`-valued fields, which the state machine reads as `undefined` all the same.
 *
 * The first byte tells them apart (`{` or JSON whitespace: version 1). Decoding throws only
 * {@link DecodeError} (`CHANNEL_STATE_INVALID`, or `CHANNEL_STATE_VERSION` for an unknown version).
 */
import { fromHex, fromUtf8 } from '../../protocol/encoding/bytes.js';
import { decodeTree, encodeTree, type TreeExtension, type TreeMemo } from '../../protocol/encoding/record.js';
import { DecodeError } from '../../protocol/errors.js';
import { ShachainStore } from '../../protocol/keys/shachain.js';
import type { ChannelState } from './state.js';

/** Current format version (the first byte of {@link encodeChannelState}'s output). */
export const CHANNEL_STATE_VERSION = 2;

/** The legacy JSON format, still accepted by {@link decodeChannelState}. */
const JSON_VERSION = 1;

/** Encodings of shachain stores by identity (a store is immutable: `insert` returns a new one). */
const shachainCache = new WeakMap<ShachainStore, Uint8Array>();

/**
 * Tree-codec extension for a {@link ShachainStore} (channel and monitor states): written as the
 * store's own compact encoding, cached per store.
 */
export const SHACHAIN_EXTENSION: TreeExtension = {
  id: 1,
  match: (v) => v instanceof ShachainStore,
  encode: (v) => {
    const store = v as ShachainStore;
    let b = shachainCache.get(store);
    if (b === undefined) {
      b = store.encode();
      shachainCache.set(store, b);
    }
    return b;
  },
  decode: (b) => ShachainStore.decode(b),
};
const EXTENSIONS = [SHACHAIN_EXTENSION];

/**
 * Subtrees that keep their identity, unchanged, across the states of a channel: their bytes are
 * cached (src/protocol/encoding/record.ts `TreeMemo`). The core state machine never mutates a
 * state object (every step builds new objects for what changes), which is what makes it safe.
 */
const MEMO: TreeMemo = {
  cache: new WeakMap(),
  keys: new Set(['config', 'params']),
};

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

/**
 * `JSON.parse` reviver of the legacy JSON format of states and records: `{"$n":"123"}` a bigint,
 * `{"$b":"hex"}` bytes, `{"$sc":"hex"}` a shachain store; a malformed bigint throws
 * DecodeError `code`.
 */
export function legacyJsonReviver(code: string): (key: string, value: unknown) => unknown {
  return (_key, value) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      if (Object.keys(o).length === 1) {
        if (typeof o.$n === 'string') {
          if (!/^-?\d+$/.test(o.$n)) throw new DecodeError(code, 'bad bigint');
          return BigInt(o.$n);
        }
        if (typeof o.$b === 'string') return fromHex(o.$b);
        if (typeof o.$sc === 'string') return ShachainStore.decode(fromHex(o.$sc));
      }
    }
    return value;
  };
}

const reviver = legacyJsonReviver('CHANNEL_STATE_INVALID');

/** Serialises a channel state (any kind) to bytes (format version {@link CHANNEL_STATE_VERSION}). */
export function encodeChannelState(state: ChannelState): Uint8Array {
  return encodeTree(state, { header: CHANNEL_STATE_VERSION, extensions: EXTENSIONS, memo: MEMO });
}

/** True for a first byte that starts a version 1 (JSON) state: `{` or JSON whitespace. */
function isJson(first: number): boolean {
  return first === 0x7b || first === 0x20 || first === 0x09 || first === 0x0a || first === 0x0d;
}

/**
 * Parses {@link encodeChannelState}'s output (version 2) or a version 1 JSON state. Checks the
 * version and the state kind; throws only DecodeError `CHANNEL_STATE_INVALID` (or
 * `CHANNEL_STATE_VERSION`).
 */
export function decodeChannelState(bytes: Uint8Array): ChannelState {
  const first = bytes[0];
  if (first === undefined) throw new DecodeError('CHANNEL_STATE_INVALID', 'empty channel state');
  let st: { kind?: unknown } | null;
  if (first === CHANNEL_STATE_VERSION) {
    st = decodeTree(bytes, { offset: 1, code: 'CHANNEL_STATE_INVALID', extensions: EXTENSIONS }) as {
      kind?: unknown;
    } | null;
  } else if (isJson(first)) {
    st = decodeJson(bytes);
  } else {
    throw new DecodeError('CHANNEL_STATE_VERSION', `unsupported channel state version ${first}`);
  }
  return checkState(st);
}

function decodeJson(bytes: Uint8Array): { kind?: unknown } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(bytes), reviver) as unknown;
  } catch (e) {
    if (e instanceof DecodeError && e.code === 'CHANNEL_STATE_INVALID') throw e;
    // Also UTF8_INVALID / HEX_INVALID / SHACHAIN_INVALID from the helpers: one code.
    throw new DecodeError('CHANNEL_STATE_INVALID', 'invalid channel state', {
      details: e instanceof Error ? e.message : String(e),
      cause: e,
    });
  }
  if (parsed === null || typeof parsed !== 'object')
    throw new DecodeError('CHANNEL_STATE_INVALID', 'not an object');
  const o = parsed as { v?: unknown; state?: unknown };
  if (o.v !== JSON_VERSION)
    throw new DecodeError('CHANNEL_STATE_VERSION', `unsupported channel state version ${String(o.v)}`);
  return o.state as { kind?: unknown } | null;
}

/** The shape checks both versions share: a known `kind` (and inner kind when `Offline`). */
function checkState(st: { kind?: unknown } | null): ChannelState {
  if (st === null || typeof st !== 'object' || typeof st.kind !== 'string' || !KINDS.has(st.kind))
    throw new DecodeError('CHANNEL_STATE_INVALID', 'unknown channel state kind');
  if (st.kind === 'Offline') {
    const inner = (st as { inner?: { kind?: unknown } | null }).inner;
    if (!inner || typeof inner !== 'object' || typeof inner.kind !== 'string' || !KINDS.has(inner.kind))
      throw new DecodeError('CHANNEL_STATE_INVALID', 'bad offline inner state');
  }
  return st as ChannelState;
}
