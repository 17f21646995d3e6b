/**
 * Monitor compaction (BOLT #5 "Revoked Transaction Close Handling" with archived revoked
 * commitments): the state keeps the peer's secrets in the BOLT #3 compact store, revoked
 * commitments move to an archive record, and a revoked commitment published later is still
 * punished — fully once its archived record is put back, its `to_local` even without it.
 */
import { describe, expect, it } from 'vitest';
import {
  archiveRevoked,
  decodeMonitorState,
  decodeRevokedArchive,
  encodeMonitorState,
  encodeMonitorStateJson,
  encodeRevokedArchive,
  encodeRevokedArchiveJson,
  hydrateRevoked,
  revokedScripts,
  unknownRevokedNumber,
} from '../../../src/core/monitor/index.js';
import { equal, toHex, utf8 } from '../../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../../src/protocol/errors.js';
import { p2wsh } from '../../../src/protocol/tx/script.js';
import { txid as txidOf } from '../../../src/protocol/tx/transaction.js';
import { useFastCrypto } from '../channel/harness.js';
import { Harness } from './chain-harness.js';

useFastCrypto();

/** Bob keeps a commitment with 3 HTLCs, the channel moves on, alice archives her revoked list. */
function scenario(channelType: 'static_remotekey' | 'anchors_zero_fee_htlc_tx') {
  const h = new Harness(channelType);
  const old = h.keptRevokedCommitment();
  const before = h.alice.state;
  expect(before.secrets?.count).toBe(before.revoked.length);
  const { state, archived } = archiveRevoked(before);
  expect(state.revoked).toEqual([]);
  // Only commitments with HTLCs need a record: the compact store derives every secret.
  expect(archived.length).toBeGreaterThan(0);
  expect(archived.every((a) => a.htlcs.length > 0 && a.perCommitmentSecret === undefined)).toBe(true);
  for (const r of before.revoked)
    expect(toHex(state.secrets!.secretForCommitment(r.commitmentNumber)!)).toBe(toHex(r.perCommitmentSecret));
  h.alice.state = decodeMonitorState(encodeMonitorState(state));
  return { h, old, archived: decodeRevokedArchive(encodeRevokedArchive(archived)) };
}

/** The outputs of `tx` spent by the transactions alice got confirmed. */
function takenByAlice(h: Harness, txid: Uint8Array): Set<number> {
  const out = new Set<number>();
  for (const id of h.alice.paid) {
    const c = h.chain.getConfirmedTx(id);
    for (const i of c?.tx.inputs ?? []) if (equal(i.txid, txid)) out.add(i.vout);
  }
  return out;
}

describe('monitor compaction: archived revoked commitments', () => {
  for (const channelType of ['static_remotekey', 'anchors_zero_fee_htlc_tx'] as const) {
    it(`a hydrated archived commitment is punished output by output (${channelType})`, () => {
      const { h, old, archived } = scenario(channelType);
      expect(unknownRevokedNumber(h.alice.state, old.commitTx)).toBe(old.commitmentNumber);
      const rec = archived.find((a) => a.commitmentNumber === old.commitmentNumber)!;
      expect(rec.htlcs).toHaveLength(3);
      h.alice.state = hydrateRevoked(h.alice.state, rec);
      expect(unknownRevokedNumber(h.alice.state, old.commitTx)).toBeUndefined();
      h.mine(1, [old.commitTx]);
      expect(h.alice.of('FundingSpent')).toMatchObject([{ kind: 'revoked' }]);
      h.mineUntil(() => h.alice.state.resolved, 30);
      expect(h.unexpectedRejections()).toEqual([]);
      // Every output but the anchors went to Alice; the cheater got nothing.
      const taken = takenByAlice(h, txidOf(old.commitTx));
      old.commitTx.outputs.forEach((o, vout) => {
        if (o.value !== 330n) expect(taken.has(vout), `output ${vout}`).toBe(true);
      });
      expect(h.bob.balance() - h.walletStart).toBe(0n);
    });

    it(`without its archived record, the revoked to_local is still punished (${channelType})`, () => {
      const { h, old } = scenario(channelType);
      h.mine(1, [old.commitTx]);
      expect(h.alice.of('FundingSpent')).toMatchObject([{ kind: 'revoked' }]);
      expect(h.alice.of('Broadcast').filter((e) => e.kind === 'justice').length).toBeGreaterThan(0);
      // Bob's to_local, recognised from the secret in the compact store alone, went to alice.
      const f = h.alice.state.funded!;
      const secret = h.alice.state.secrets!.secretForCommitment(old.commitmentNumber)!;
      const spk = p2wsh(revokedScripts(f, secret).toLocalWitnessScript);
      const vout = old.commitTx.outputs.findIndex((o) => equal(o.scriptPubKey, spk));
      expect(vout).toBeGreaterThanOrEqual(0);
      h.mine(2);
      expect(takenByAlice(h, txidOf(old.commitTx)).has(vout)).toBe(true);
    });
  }

  it('states written before the compact secret store load (no `secrets`)', () => {
    const { h } = scenario('static_remotekey');
    expect(decodeMonitorState(encodeMonitorStateJson(h.alice.state))).toEqual(h.alice.state);
    const json = JSON.parse(new TextDecoder().decode(encodeMonitorStateJson(h.alice.state))) as {
      state: Record<string, unknown>;
    };
    delete json.state.secrets;
    const s = decodeMonitorState(utf8(JSON.stringify(json)));
    expect(s.secrets).toBeUndefined();
    expect(s.locals.length).toBe(h.alice.state.locals.length);
  });

  it('binary states: round trip (also re-encoded from memoised parts); truncations only throw DecodeError', () => {
    const { h } = scenario('anchors_zero_fee_htlc_tx');
    const s = h.alice.state;
    expect(s.locals.length).toBeGreaterThan(0);
    const bytes = encodeMonitorState(s);
    expect(bytes[0]).toBe(2);
    expect(decodeMonitorState(bytes)).toEqual(s);
    // A later state sharing most objects: the memoised parts are reused, the result is the same
    // as a fresh encoding of an equal (unshared) state.
    const next = { ...s, height: s.height + 1, locals: s.locals.slice(-1), reported: [...s.reported, 'x'] };
    const fresh = decodeMonitorState(encodeMonitorStateJson(next));
    expect(decodeMonitorState(encodeMonitorState(next))).toEqual(fresh);
    expect(toHex(encodeMonitorState(next))).toBe(toHex(encodeMonitorState(fresh)));
    // The legacy JSON format is still read.
    expect(decodeMonitorState(encodeMonitorStateJson(s))).toEqual(s);
    for (let n = 0; n < bytes.length; n += 211)
      try {
        decodeMonitorState(bytes.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
  });

  it('archive records: round trip; bad input only throws DecodeError', () => {
    const { archived } = scenario('static_remotekey');
    const bytes = encodeRevokedArchive(archived);
    expect(decodeRevokedArchive(bytes)).toEqual(archived);
    // Records written before the binary format still load.
    expect(decodeRevokedArchive(encodeRevokedArchiveJson(archived))).toEqual(archived);
    for (const bad of ['', '{}', '{"v":1,"htlcs":[],"entries":[[1,null,[0]]]}', '[', '{"v":2}'])
      expect(() => decodeRevokedArchive(utf8(bad))).toThrow(DecodeError);
    for (let n = 0; n < bytes.length; n += 97)
      try {
        decodeRevokedArchive(bytes.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
  });
});
