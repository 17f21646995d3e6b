/**
 * Work moved off the payment path by the channel state machine, checked against the plain
 * computations: key sets derived ahead of time (`precomputeNextKeys`, memoised per ChannelKeys)
 * and our own commitment signed only when it is published (`LocalCommitmentUpdate.remoteSig`).
 */
import { describe, expect, it } from 'vitest';
import {
  buildLocalCommitTx,
  type ChannelEffect,
  type ChannelFundedUpdate,
  type LocalCommitmentUpdate,
  localCommitmentKeys,
  localPoint,
  precomputeNextKeys,
  remoteCommitmentKeys,
  signedLocalCommitTx,
} from '../../../src/core/channel/index.js';
import { signedLocalCommitment } from '../../../src/core/monitor/index.js';
import { type Secp256k1Backend, secp, setSecp256k1Backend } from '../../../src/protocol/crypto/secp256k1.js';
import { toHex } from '../../../src/protocol/encoding/bytes.js';
import { encodeTx } from '../../../src/protocol/tx/transaction.js';
import { hexJson as hexKeys, Pair, type Peer, useFastCrypto } from './harness.js';

useFastCrypto();

function monitorUpdates<T extends { type: string }>(log: ChannelEffect[], type: T['type']): T[] {
  const out: T[] = [];
  for (const e of log)
    if (e.type === 'MonitorUpdate' && e.update.type === type) out.push(e.update as unknown as T);
  return out;
}

function pay(p: Pair, from: Peer, n: number, amountMsat = 2_000_000n): void {
  p.addAndSign(from, n, amountMsat);
  p.pump();
}

/** Counts the variable-base point multiplications (revocation key derivation) while `fn` runs. */
function pointMuls(fn: () => void): number {
  const base: Secp256k1Backend = secp();
  let n = 0;
  setSecp256k1Backend({
    ...base,
    pointMul: (pub, k) => {
      n++;
      return base.pointMul(pub, k);
    },
  });
  try {
    fn();
  } finally {
    setSecp256k1Backend(base);
  }
  return n;
}

/** Alice adds and signs one HTLC; Bob receives it and its commitment_signed (he signs back). */
function halfRound(p: Pair, n: number): void {
  p.addAndSign(p.alice, n, 3_000_000n);
  p.deliverOne(p.bob); // add
  p.deliverOne(p.bob); // commitment_signed → revoke_and_ack + commitment_signed
}

describe('per-commitment keys derived ahead of time', () => {
  it('without precomputation a commitment round derives revocation keys on the way', () => {
    const p = new Pair();
    p.open();
    pay(p, p.alice, 1);
    expect(pointMuls(() => halfRound(p, 2))).toBeGreaterThan(0);
  });

  it('a commitment round after precomputeNextKeys derives no revocation key, with the same keys', () => {
    const p = new Pair();
    p.open();
    pay(p, p.alice, 1);
    // Both sides idle: derive the next round's keys now.
    expect(precomputeNextKeys(p.alice.commitments, p.alice.keys)).toBe(2);
    expect(precomputeNextKeys(p.bob.commitments, p.bob.keys)).toBe(2);
    // A second call finds everything memoised.
    expect(precomputeNextKeys(p.alice.commitments, p.alice.keys)).toBe(0);
    const aliceBefore = p.alice.log.length;
    const bobBefore = p.bob.log.length;
    // Alice signs, Bob verifies and signs back, Alice verifies: all four key sets were ready.
    expect(pointMuls(() => halfRound(p, 2))).toBe(0);
    p.pump();
    // The memoised keys are the plain BOLT 3 ones.
    const bobLocal = monitorUpdates<LocalCommitmentUpdate>(p.bob.log.slice(bobBefore), 'LocalCommitment')[0]!;
    const bobParams = p.bob.commitments.params;
    expect(hexKeys(bobLocal.keys)).toBe(hexKeys(localCommitmentKeys(bobParams, bobLocal.perCommitmentPoint)));
    const aliceLocal = monitorUpdates<LocalCommitmentUpdate>(
      p.alice.log.slice(aliceBefore),
      'LocalCommitment',
    )[0]!;
    expect(hexKeys(aliceLocal.keys)).toBe(
      hexKeys(localCommitmentKeys(p.alice.commitments.params, aliceLocal.perCommitmentPoint)),
    );
    expect(p.alice.commitments.localCommit.index).toBe(p.bob.commitments.remoteCommit.index);
  });

  it('the peer key set is only derived when its next point is known, and it matches the plain formula', () => {
    const p = new Pair();
    p.open();
    p.addAndSign(p.alice, 3, 2_000_000n);
    // Alice waits for Bob's revocation: only her own next commitment can be prepared.
    expect(p.alice.commitments.waiting).toBeDefined();
    expect(precomputeNextKeys(p.alice.commitments, p.alice.keys)).toBe(1);
    p.pump();
    const c = p.alice.commitments;
    const point = c.remoteNextPerCommitmentPoint!;
    // The round completed: her next commitment moved on, and Bob's next point is known.
    expect(precomputeNextKeys(c, p.alice.keys)).toBe(2);
    expect(hexKeys(remoteCommitmentKeys(c.params, point, p.alice.keys))).toBe(
      hexKeys(remoteCommitmentKeys(c.params, point)),
    );
    const next = c.localCommit.index + 1;
    expect(hexKeys(localCommitmentKeys(c.params, localPoint(p.alice.keys, next), p.alice.keys, next))).toBe(
      hexKeys(localCommitmentKeys(c.params, localPoint(p.alice.keys, next))),
    );
  });

  it('memoised keys are not reused for other channel parameters with the same point', () => {
    const p = new Pair();
    p.open();
    const c = p.alice.commitments;
    const next = c.localCommit.index + 1;
    precomputeNextKeys(c, p.alice.keys);
    const point = localPoint(p.alice.keys, next);
    // Same point and keys, other parameters (the peer's HTLC basepoint differs): not the memo.
    const other = {
      ...c.params,
      remote: { ...c.params.remote, htlcBasepoint: c.params.local.htlcBasepoint },
    };
    const tx = buildLocalCommitTx(other, next, c.localCommit.spec, point, p.alice.keys);
    expect(hexKeys(tx.params.keys)).toBe(hexKeys(localCommitmentKeys(other, point)));
    expect(hexKeys(tx.params.keys)).not.toBe(hexKeys(localCommitmentKeys(c.params, point)));
    // The channel's own parameters do hit the memo, with the plain result.
    const own = buildLocalCommitTx(c.params, next, c.localCommit.spec, point, p.alice.keys);
    expect(hexKeys(own.params.keys)).toBe(hexKeys(localCommitmentKeys(c.params, point)));
  });
});

describe('our commitment signed when published', () => {
  it('a received commitment_signed stores the unsigned commitment with the peer signature; signing it later gives the eager bytes', () => {
    for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
      const p = new Pair();
      p.open({ channelType });
      pay(p, p.alice, 4);
      pay(p, p.bob, 5);
      const funded = monitorUpdates<ChannelFundedUpdate>(p.bob.log, 'ChannelFunded')[0]!;
      const latest = monitorUpdates<LocalCommitmentUpdate>(p.bob.log, 'LocalCommitment').at(-1)!;
      expect(latest.commitmentNumber).toBe(p.bob.commitments.localCommit.index);
      expect(latest.remoteSig).toBeDefined();
      expect(latest.commitTx.inputs[0]!.witness).toHaveLength(0);
      const lazy = signedLocalCommitment(latest, funded, p.bob.keys.fundingPrivkey);
      const eager = signedLocalCommitTx(p.bob.commitments, p.bob.keys);
      expect(eager.remoteSig).toBeUndefined();
      expect(toHex(encodeTx(lazy))).toBe(toHex(encodeTx(eager.commitTx)));
      expect(lazy.inputs[0]!.witness).toHaveLength(4);
      // An already signed commitment is published as stored.
      expect(signedLocalCommitment(eager, funded, p.bob.keys.fundingPrivkey)).toBe(eager.commitTx);
    }
  });
});
