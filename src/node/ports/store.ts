/**
 * The store port: a namespaced key-value store of byte blobs (LDK's KVStore shape), so any
 * backend fits (SQLite, Postgres, memory, remote).
 *
 * Obligations of every implementation (checked by test/store/conformance.ts):
 * - a write (or batch) is durable when its promise resolves: the runtime writes state that a
 *   later peer message depends on and awaits it BEFORE sending that message;
 * - `batch` is atomic: after a crash either every operation of it is visible or none is;
 * - batches become durable in the order they were called, and their promises resolve in that
 *   order; a batch that fails to commit fails every batch called after it (a later batch may
 *   depend on an earlier one: the runtime queues dependent writes without awaiting each);
 * - `barrier()` resolves once every batch called before it is durable (rejects if one failed);
 * - namespaces are isolated; `list` returns the keys of one namespace in ascending order;
 * - invalid namespaces/keys are rejected with {@link StoreError} `STORE_INVALID_KEY`.
 */
import { FaradError } from '../../protocol/errors.js';

export type StoreOp =
  | { op: 'put'; namespace: string; key: string; value: Uint8Array }
  | { op: 'del'; namespace: string; key: string };

export interface KVStore {
  /** The value at (namespace, key), or undefined. */
  read(namespace: string, key: string): Promise<Uint8Array | undefined>;
  /** Durably stores `value`. */
  write(namespace: string, key: string, value: Uint8Array): Promise<void>;
  /** Durably removes the key (no error if absent). */
  remove(namespace: string, key: string): Promise<void>;
  /** Keys in `namespace`, ascending. */
  list(namespace: string): Promise<string[]>;
  /** Applies every operation atomically and durably. */
  batch(ops: readonly StoreOp[]): Promise<void>;
  /**
   * Resolves once every batch called before it is durable; rejects if one of them failed. The
   * runtime awaits it before sending a message that depends on writes it did not await itself.
   */
  barrier(): Promise<void>;
  /** Releases the backend. Further calls reject with `STORE_CLOSED`. */
  close(): Promise<void>;
}

export class StoreError extends FaradError {
  override name = 'StoreError';
}

const NAME_RE = /^[A-Za-z0-9_\-./:]{1,120}$/;

/** Validates a namespace or key (1..120 chars of `[A-Za-z0-9_-./:]`). */
export function checkStoreName(kind: 'namespace' | 'key', s: string): void {
  if (typeof s !== 'string' || !NAME_RE.test(s)) {
    throw new StoreError('STORE_INVALID_KEY', `invalid store ${kind}`, { details: JSON.stringify(s) });
  }
}
