/**
 * Devnet persistence (`--data-dir`): an append-only log of every block added (raw hex) and
 * every invalidate/reconsider, replayed through full validation on start; plus the mempool,
 * written on a clean stop and re-submitted on start. Simple and safe: a torn last line (crash
 * mid-write) is ignored.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '../../protocol/encoding/bytes.js';
import { decodeBlock } from '../../protocol/tx/block.js';
import { decodeTx } from '../../protocol/tx/transaction.js';
import type { DevnetChain } from './chain.js';
import { BlockRejected, TxRejected } from './policy.js';

const LOG = 'chain.log';
const MEMPOOL = 'mempool.json';

/** Replays `dir` into `chain` and attaches a listener that appends new events. */
export function openStore(chain: DevnetChain, dir: string): { saveMempool(): void } {
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, LOG);
  if (existsSync(logPath)) {
    const lines = readFileSync(logPath, 'utf8').split('\n');
    for (const line of lines) {
      if (line.trim() === '') continue;
      let ev: { b?: string; i?: string; r?: string };
      try {
        ev = JSON.parse(line);
      } catch {
        break; // torn write at the end of the log
      }
      try {
        if (ev.b) chain.submitBlock(decodeBlock(fromHex(ev.b)));
        else if (ev.i) chain.invalidateBlock(ev.i);
        else if (ev.r) chain.reconsiderBlock(ev.r);
      } catch (e) {
        if (!(e instanceof BlockRejected)) throw e;
      }
    }
  }
  const mempoolPath = join(dir, MEMPOOL);
  if (existsSync(mempoolPath)) {
    let txs: string[] = [];
    try {
      txs = JSON.parse(readFileSync(mempoolPath, 'utf8')) as string[];
    } catch {
      txs = []; // unreadable mempool file: start with an empty mempool
    }
    for (const hex of txs) {
      try {
        chain.acceptTx(decodeTx(fromHex(hex)), { bypassFee: true });
      } catch (e) {
        if (!(e instanceof TxRejected)) throw e;
      }
    }
  }
  const append = (ev: Record<string, string>) => appendFileSync(logPath, `${JSON.stringify(ev)}\n`);
  chain.listeners.push({
    blockAdded: (_entry, raw) => append({ b: toHex(raw) }),
    blockInvalidated: (hash) => append({ i: hash }),
    blockReconsidered: (hash) => append({ r: hash }),
  });
  return {
    saveMempool() {
      const tmp = `${mempoolPath}.tmp`;
      writeFileSync(tmp, JSON.stringify([...chain.mempool.values()].map((e) => toHex(e.raw))));
      renameSync(tmp, mempoolPath);
    },
  };
}
