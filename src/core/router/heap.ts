/**
 * A binary min-heap of (key: float64, value: int32) pairs over growable typed arrays, with
 * lazy deletion (callers skip stale pops). Used by the router's Dijkstra.
 */
export class MinHeap {
  private keys: Float64Array;
  private vals: Int32Array;
  private n = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity);
    this.vals = new Int32Array(capacity);
  }

  /** Number of entries. */
  get size(): number {
    return this.n;
  }

  /** Removes every entry (keeps the storage). */
  clear(): void {
    this.n = 0;
  }

  /** Inserts `value` with priority `key`. */
  push(key: number, value: number): void {
    if (this.n === this.keys.length) {
      const k = new Float64Array(this.n * 2);
      k.set(this.keys);
      const v = new Int32Array(this.n * 2);
      v.set(this.vals);
      this.keys = k;
      this.vals = v;
    }
    const keys = this.keys;
    const vals = this.vals;
    let i = this.n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pk = keys[p]!;
      if (pk <= key) break;
      keys[i] = pk;
      vals[i] = vals[p]!;
      i = p;
    }
    keys[i] = key;
    vals[i] = value;
  }

  /** Key of the minimum (undefined when empty). */
  peekKey(): number | undefined {
    return this.n > 0 ? this.keys[0] : undefined;
  }

  /** Removes and returns the value with the smallest key (-1 when empty). */
  pop(): number {
    if (this.n === 0) return -1;
    const keys = this.keys;
    const vals = this.vals;
    const top = vals[0]!;
    const n = --this.n;
    if (n === 0) return top;
    const key = keys[n]!;
    const val = vals[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && keys[r]! < keys[c]!) c = r;
      if (keys[c]! >= key) break;
      keys[i] = keys[c]!;
      vals[i] = vals[c]!;
      i = c;
    }
    keys[i] = key;
    vals[i] = val;
    return top;
  }
}
