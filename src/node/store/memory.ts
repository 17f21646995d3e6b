/** In-memory {@link KVStore} for the in-process test harness (not durable across processes). */
import { checkStoreName, type KVStore, StoreError, type StoreOp } from '../ports/store.js';

export class MemoryStore implements KVStore {
  private readonly data = new Map<string, Map<string, Uint8Array>>();
  private closed = false;

  private ns(namespace: string): Map<string, Uint8Array> {
    let m = this.data.get(namespace);
    if (!m) {
      m = new Map();
      this.data.set(namespace, m);
    }
    return m;
  }

  private check(): void {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'store is closed');
  }

  async read(namespace: string, key: string): Promise<Uint8Array | undefined> {
    this.check();
    checkStoreName('namespace', namespace);
    checkStoreName('key', key);
    const v = this.data.get(namespace)?.get(key);
    return v ? v.slice() : undefined;
  }

  async write(namespace: string, key: string, value: Uint8Array): Promise<void> {
    await this.batch([{ op: 'put', namespace, key, value }]);
  }

  async remove(namespace: string, key: string): Promise<void> {
    await this.batch([{ op: 'del', namespace, key }]);
  }

  async list(namespace: string): Promise<string[]> {
    this.check();
    checkStoreName('namespace', namespace);
    return [...(this.data.get(namespace)?.keys() ?? [])].sort();
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    for (const o of ops) {
      checkStoreName('namespace', o.namespace);
      checkStoreName('key', o.key);
    }
    for (const o of ops) {
      if (o.op === 'put') this.ns(o.namespace).set(o.key, o.value.slice());
      else this.data.get(o.namespace)?.delete(o.key);
    }
  }

  /** Every batch is applied when called: nothing to wait for. */
  async barrier(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
