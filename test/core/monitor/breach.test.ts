import { describe, expect, it } from 'vitest';
import { signedHtlcTx } from '../../../src/core/monitor/index.js';
import { equal } from '../../../src/protocol/encoding/bytes.js';
import { txidHex } from '../../../src/protocol/tx/transaction.js';
import { payment, useFastCrypto } from '../channel/harness.js';
import { Harness } from './chain-harness.js';

useFastCrypto();

describe('monitor: revoked commitment on chain', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`the victim takes every output, a second-stage HTLC output included (${channelType})`, () => {
      const h = new Harness(channelType);
      // Bob keeps a (fully signed) commitment with three HTLCs and their HTLC transactions, then
      // the channel moves on: the first HTLC is fulfilled, another is added.
      const old = h.keptRevokedCommitment();
      expect(old.htlcTxs.length).toBe(3);
      expect(h.alice.state.revoked.some((r) => r.commitmentNumber === old.commitmentNumber)).toBe(true);

      // The cheater publishes the revoked commitment...
      h.mine(1, [old.commitTx]);
      expect(h.alice.of('FundingSpent')).toMatchObject([{ kind: 'revoked' }]);
      expect(h.alice.of('Broadcast').filter((e) => e.kind === 'justice')).toHaveLength(1);
      // ...and gets its HTLC-success for x1 confirmed before the justice transaction.
      const success = old.htlcTxs.find((t) => equal(t.paymentHash, payment(21).hash))!;
      const bobHtlcBase = h.pair.bob.commitments.params.local.htlcBasepoint;
      const second = signedHtlcTx(
        success,
        h.pair.bob.keys,
        bobHtlcBase,
        old.perCommitmentPoint,
        payment(21).preimage,
      );
      h.mine(1, [second]);
      expect(h.chain.getConfirmedTx(txidHex(second))).toBeDefined();
      h.mineUntil(() => h.alice.state.resolved, 30);
      expect(h.unexpectedRejections()).toEqual([]);

      // Every output but the anchors went to Alice: the second-stage output with the revocation key.
      const justice = [...h.alice.paid]
        .map((id) => h.chain.getConfirmedTx(id))
        .filter((c) => c !== undefined);
      expect(justice.length).toBeGreaterThanOrEqual(2);
      const spentBySecond = justice.some((c) =>
        c!.tx.inputs.some((i) => txidHex({ ...second }) === Buffer.from(i.txid).toString('hex')),
      );
      expect(spentBySecond).toBe(true);
      let total = 0n;
      for (const o of old.commitTx.outputs) if (o.value !== 330n) total += o.value;
      const secondFee = success.htlcTx.inputAmountSat - second.outputs[0]!.value;
      expect(h.alice.balance() - h.walletStart).toBe(total - secondFee - h.alice.feesPaid());
      // The cheater gets nothing.
      expect(h.bob.balance() - h.walletStart).toBe(0n);
      expect(h.bob.of('FundingSpent')).toMatchObject([{ kind: 'remote-unknown' }]);
      expect(h.bob.of('Broadcast')).toHaveLength(0);
      // HTLCs still pending in the channel are reported timed out (their value was taken).
      const outcomes = h.alice
        .of('HtlcResolvedOnChain')
        .map((e) => `${e.direction}:${e.outcome.kind}`)
        .sort();
      expect(outcomes).toEqual(['offered:timedOut', 'offered:timedOut', 'received:timedOut']);
    });
  }
});
