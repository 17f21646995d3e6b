import { describe, expect, it } from 'vitest';
import { commitmentFee } from '../../../src/protocol/channel/fees.js';
import { toHex } from '../../../src/protocol/encoding/bytes.js';
import { txidHex } from '../../../src/protocol/tx/transaction.js';
import { payment, useFastCrypto } from '../channel/harness.js';
import { Harness, type Party } from './chain-harness.js';

useFastCrypto();

const TYPES = ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const;

function outcomes(p: Party): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of p.of('HtlcResolvedOnChain'))
    out[`${e.direction}:${e.htlcId}`] =
      e.outcome.kind === 'fulfilled' ? `fulfilled:${toHex(e.outcome.preimage).slice(0, 8)}` : 'timedOut';
  return out;
}

const pre = (n: number) => `fulfilled:${toHex(payment(n).preimage).slice(0, 8)}`;

describe('monitor: cooperative close', () => {
  it('is resolved after 6 confirmations, and a reorg before that re-arms it', () => {
    const h = new Harness('static_remotekey');
    h.pair.input(h.pair.alice, { type: 'CmdClose' });
    h.pair.settle();
    h.sync();
    const tx = h.pair.alice.log.find((e) => e.type === 'BroadcastTx');
    expect(tx?.type).toBe('BroadcastTx');
    if (tx?.type !== 'BroadcastTx') return;
    h.chain.acceptTx(tx.tx);
    h.mine();
    const closeHeight = h.height;
    expect(h.alice.of('FundingSpent')).toMatchObject([{ kind: 'mutual', height: closeHeight }]);
    h.mine(4);
    expect(h.alice.of('ChannelFullyResolved')).toHaveLength(0);
    // Reorg the last 5 blocks: the close is forgotten, then confirmed again.
    for (let k = 0; k < 5; k++) {
      const tip = h.chain.tip;
      h.chain.invalidateBlock(tip.hash);
      for (const p of [h.alice, h.bob]) p.step({ type: 'BlockDisconnected', height: tip.height });
    }
    expect(h.alice.state.chainTxs).toHaveLength(0);
    h.mine(5);
    expect(h.alice.of('ChannelFullyResolved')).toHaveLength(0);
    h.mine();
    for (const p of [h.alice, h.bob])
      expect(p.of('ChannelFullyResolved')).toMatchObject([{ closeKind: 'mutual' }]);
    expect(h.alice.state.resolved).toBe(true);
  });
});

describe('monitor: unilateral close with HTLCs in flight', () => {
  for (const channelType of TYPES) {
    for (const closer of ['alice', 'bob'] as const) {
      it(`${closer} publishes its commitment; both sides resolve it to the satoshi (${channelType})`, () => {
        const h = new Harness(channelType);
        const base = h.height;
        // Alice -> Bob: A1 (Bob gets the preimage), A2 (times out), dust A3. Bob -> Alice: B1
        // (Alice knows the preimage), B2 (times out).
        const a1 = h.addHtlc(h.pair.alice, 1, 20_000_000n, base + 40);
        const a2 = h.addHtlc(h.pair.alice, 2, 15_000_000n, base + 20);
        const a3 = h.addHtlc(h.pair.alice, 3, 400_000n, base + 21);
        const b1 = h.addHtlc(h.pair.bob, 11, 25_000_000n, base + 45);
        const b2 = h.addHtlc(h.pair.bob, 12, 12_000_000n, base + 22);
        h.fulfill(h.pair.bob, a1, 1);
        h.fulfill(h.pair.alice, b1, 11);
        // Nobody delivers the fulfills: the closer goes on chain.
        h.pair.disconnect();
        const C = closer === 'alice' ? h.alice : h.bob;
        const O = closer === 'alice' ? h.bob : h.alice;
        const local = C.peer.commitments.localCommit;
        const anchors = channelType === 'anchors_zero_fee_htlc_tx';
        C.feeratePerKw = anchors ? 5000 : 1000; // anchors: the commitment pays 2500/kw, CPFP to 5000
        C.step({ type: 'CmdForceClose' });
        C.feeratePerKw = 1000;
        h.mine();
        const commit = h.chain.getConfirmedTx(toHex(local.txid));
        expect(commit, 'the commitment confirmed').toBeDefined();
        expect(O.of('FundingSpent')).toMatchObject([{ kind: 'remote' }]);
        expect(C.of('FundingSpent')).toMatchObject([{ kind: 'local' }]);
        expect(C.of('RequestCpfp')).toHaveLength(anchors ? 1 : 0);
        h.mineUntil(() => h.alice.state.resolved && h.bob.state.resolved, 80);
        expect(h.unexpectedRejections()).toEqual([]);
        expect(h.prematureChecked).toBeGreaterThan(0);

        // HTLC outcomes, from each side's point of view.
        expect(outcomes(h.alice)).toEqual({
          [`offered:${a1}`]: pre(1), // Bob's HTLC-success (or direct claim) revealed it
          [`offered:${a2}`]: 'timedOut',
          [`offered:${a3}`]: 'timedOut', // trimmed
          [`received:${b1}`]: pre(11),
          [`received:${b2}`]: 'timedOut',
        });
        expect(outcomes(h.bob)).toEqual({
          [`received:${a1}`]: pre(1),
          [`received:${a2}`]: 'timedOut',
          [`received:${a3}`]: 'timedOut',
          [`offered:${b1}`]: pre(11),
          [`offered:${b2}`]: 'timedOut',
        });

        // Balances to the satoshi. Alice opened the channel: her output pays the commitment fee
        // (and the two anchors); Bob's is exactly his balance.
        const spec = local.spec;
        const untrimmed = spec.htlcs.filter((x) => x.amountMsat >= 1_000_000n).length;
        const fee = commitmentFee(spec.feeratePerKw, untrimmed, channelType);
        const aliceMsat = closer === 'alice' ? spec.toLocalMsat : spec.toRemoteMsat;
        const bobMsat = closer === 'alice' ? spec.toRemoteMsat : spec.toLocalMsat;
        const aliceOut = aliceMsat / 1000n - fee - (anchors ? 660n : 0n);
        const bobOut = bobMsat / 1000n;
        const values = commit!.tx.outputs.map((o) => o.value);
        expect(values).toContain(aliceOut);
        expect(values).toContain(bobOut);
        const commitId = new Set([txidHex(commit!.tx)]);
        const anchorBack = anchors ? 330n : 0n; // the closer's anchor, spent by its CPFP child
        const aliceGets = aliceOut + 15_000n + 25_000n + (closer === 'alice' ? anchorBack : 0n);
        const bobGets = bobOut + 20_000n + 12_000n + (closer === 'bob' ? anchorBack : 0n);
        expect(h.alice.balance() - h.walletStart).toBe(aliceGets - h.alice.feesPaid(commitId));
        expect(h.bob.balance() - h.walletStart).toBe(bobGets - h.bob.feesPaid(commitId));
        // The remote side used no wallet: everything it got was reported as claimed.
        const claimed = O.of('ClaimConfirmed').reduce((s, e) => s + e.amountSat, 0n);
        expect(claimed).toBe(O.balance() - h.walletStart);
      });
    }
  }
});
