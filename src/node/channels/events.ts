/**
 * The node's durable event queue: every {@link NodeEvent} is written to the store (namespace
 * `events`, key = zero-padded sequence number) before it is delivered, and stays there until the
 * consumer acknowledges it ({@link EventQueue.ack}). After a restart the unacknowledged events
 * are delivered again (at-least-once delivery, in sequence order).
 *
 * Acknowledgements are written lazily: the deletions of the acks of a short window (`ackDelayMs`,
 * 50 ms by default) share one store batch, so a stream of events does not cost one durable
 * commit per acknowledgement. An ack lost in a crash only means the event is delivered again.
 */
import type { KVStore, StoreOp } from '../ports/store.js';
import { decodeRecord, encodeRecord } from './codec.js';

/** Something that happened on the node (what a daemon or an application reacts to). */
export type NodeEventBody =
  | {
      type: 'ChannelPending';
      channelId: string;
      peer: string;
      fundingTxid: string;
      fundingOutputIndex: number;
    }
  | {
      type: 'ChannelReady';
      channelId: string;
      peer: string;
      shortChannelId: string | undefined;
      localAlias: string | undefined;
    }
  | { type: 'ChannelClosed'; channelId: string | undefined; peer: string; closeType: string; reason: string }
  | { type: 'PaymentReceived'; paymentHash: string; amountMsat: bigint; channelId: string }
  | { type: 'PaymentSent'; paymentHash: string; preimage: string; amountMsat: bigint; feeMsat: bigint }
  | { type: 'PaymentFailed'; paymentHash: string; reason: string };

/** A delivered event: its body plus its sequence number (`id`) and creation time (ms). */
export type NodeEvent = NodeEventBody & { id: number; time: number };

/** Namespace of the events. */
export const EVENTS_NAMESPACE = 'events';

const keyOf = (id: number) => id.toString().padStart(16, '0');

/** See the module documentation. */
export class EventQueue {
  readonly #store: KVStore;
  readonly #now: () => number;
  #next = 1;
  readonly #pending = new Map<number, NodeEvent>();
  readonly #listeners = new Set<(e: NodeEvent) => void>();
  readonly #waiters: Array<(e: NodeEvent) => void> = [];
  readonly #schedule: ((fn: () => void, ms: number) => void) | undefined;
  readonly #ackDelayMs: number;
  #acked: number[] = [];
  #ackFlush: Promise<void> | undefined;

  /**
   * `schedule` runs a function after a delay (the node's clock); without it acknowledgements are
   * written at once.
   */
  constructor(
    store: KVStore,
    now: () => number,
    opts: { schedule?: (fn: () => void, ms: number) => void; ackDelayMs?: number } = {},
  ) {
    this.#store = store;
    this.#now = now;
    this.#schedule = opts.schedule;
    this.#ackDelayMs = opts.ackDelayMs ?? 50;
  }

  /** Loads the unacknowledged events (call once, before anything is emitted). */
  async load(): Promise<void> {
    for (const k of await this.#store.list(EVENTS_NAMESPACE)) {
      const v = await this.#store.read(EVENTS_NAMESPACE, k);
      if (!v) continue;
      const e = decodeRecord<NodeEvent>(v);
      this.#pending.set(e.id, e);
      if (e.id >= this.#next) this.#next = e.id + 1;
    }
  }

  /** Prepares an event: the store operation that persists it, and `deliver` to call once it is durable. */
  prepare(body: NodeEventBody): { event: NodeEvent; op: StoreOp; deliver: () => void } {
    const e = { ...body, id: this.#next++, time: this.#now() } as NodeEvent;
    return {
      event: e,
      op: { op: 'put', namespace: EVENTS_NAMESPACE, key: keyOf(e.id), value: encodeRecord(e) },
      deliver: () => {
        this.#pending.set(e.id, e);
        this.#deliver(e);
      },
    };
  }

  /** Persists and delivers one event. */
  async emit(body: NodeEventBody): Promise<NodeEvent> {
    const p = this.prepare(body);
    await this.#store.batch([p.op]);
    p.deliver();
    return p.event;
  }

  /** Unacknowledged events, oldest first. */
  pending(): NodeEvent[] {
    return [...this.#pending.values()].sort((a, b) => a.id - b.id);
  }

  /**
   * Acknowledges an event: it is no longer pending at once, and its record is deleted with the
   * other acknowledgements of the window; resolves (true) once that deletion is durable. Returns
   * false if the event was not pending.
   */
  async ack(id: number): Promise<boolean> {
    if (!this.#pending.has(id)) return false;
    this.#pending.delete(id);
    this.#acked.push(id);
    if (!this.#ackFlush) {
      this.#ackFlush = new Promise<void>((resolve, reject) => {
        const run = () => {
          this.flushAcks().then(resolve, reject);
        };
        if (this.#schedule) this.#schedule(run, this.#ackDelayMs);
        else run();
      });
    }
    await this.#ackFlush;
    return true;
  }

  /** Writes the pending acknowledgements now (call before closing the store). */
  async flushAcks(): Promise<void> {
    const ids = this.#acked;
    this.#acked = [];
    this.#ackFlush = undefined;
    if (ids.length === 0) return;
    await this.#store.batch(ids.map((id) => ({ op: 'del', namespace: EVENTS_NAMESPACE, key: keyOf(id) })));
  }

  /**
   * Subscribes to events: the listener first receives every pending event, then each new one.
   * Returns an unsubscribe function. Events stay pending until acknowledged.
   */
  subscribe(listener: (e: NodeEvent) => void): () => void {
    for (const e of this.pending()) listener(e);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The oldest pending event, or the next one to arrive. */
  next(): Promise<NodeEvent> {
    const first = this.pending()[0];
    if (first) return Promise.resolve(first);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #deliver(e: NodeEvent): void {
    for (const w of this.#waiters.splice(0)) w(e);
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // a failing listener does not stop delivery to the others
      }
    }
  }
}
