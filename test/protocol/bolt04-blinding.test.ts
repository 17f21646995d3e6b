/**
 * BOLT #4 route blinding, blinded payment onions and onion messages:
 * fixtures/vectors/bolt04/route-blinding-test.json, blinded-payment-onion-test.json and
 * blinded-onion-message-onion-test.json, plus codec properties.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { Reader } from '../../src/protocol/encoding/reader.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  type BlindedPath,
  blindedForwardAmount,
  blindedNodeIdTweak,
  blindingFactor,
  checkPaymentPayload,
  createBlindedPath,
  createOnionMessage,
  createOnionPacket,
  decodeBlindedPath,
  decodeEncryptedData,
  decodeOnionMessage,
  decodeOnionMessagePayload,
  decodePaymentPayload,
  deriveNextPathKey,
  type EncryptedData,
  encodeBlindedPath,
  encodeEncryptedData,
  encodeOnionMessage,
  encodeOnionMessagePayload,
  encodePaymentPayload,
  FailureCode,
  generateKey,
  OnionBlindingError,
  type OnionMessagePayload,
  type OnionPeelError,
  type PaymentHopPayload,
  peelOnion,
  peelOnionMessage,
  unblindHop,
} from '../../src/protocol/onion/index.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

const RB = loadVector('bolt04/route-blinding-test.json');
const BP = loadVector('bolt04/blinded-payment-onion-test.json');
const OM = loadVector('bolt04/blinded-onion-message-onion-test.json');

// biome-ignore lint/suspicious/noExplicitAny: untyped vector JSON.
type Json = any;

/** "BxTxO" short channel id notation → u64. */
function scid(s: string): bigint {
  const [b, t, o] = s.split('x').map((x) => BigInt(x));
  return (b! << 40n) | (t! << 16n) | o!;
}

/** Feature bit list → minimal big-endian feature bytes. */
function features(bits: number[]): Uint8Array {
  if (bits.length === 0) return new Uint8Array(0);
  const len = Math.floor(Math.max(...bits) / 8) + 1;
  const out = new Uint8Array(len);
  for (const b of bits) out[len - 1 - Math.floor(b / 8)]! |= 1 << (b % 8);
  return out;
}

/** The vectors' structured `encrypted_data_tlv` → {@link EncryptedData}. */
function encData(t: Json): EncryptedData {
  const d: EncryptedData = {};
  const extra: { type: bigint; value: Uint8Array }[] = [];
  for (const [k, v] of Object.entries(t as Record<string, Json>)) {
    if (k === 'padding') d.padding = hex(v);
    else if (k === 'short_channel_id') d.shortChannelId = scid(v);
    else if (k === 'next_node_id') d.nextNodeId = hex(v);
    else if (k === 'path_id') d.pathId = hex(v);
    else if (k === 'next_path_key_override') d.nextPathKeyOverride = hex(v);
    else if (k === 'payment_relay')
      d.paymentRelay = {
        cltvExpiryDelta: v.cltv_expiry_delta,
        feeProportionalMillionths: v.fee_proportional_millionths ?? 0,
        feeBaseMsat: BigInt(v.fee_base_msat ?? 0),
      };
    else if (k === 'payment_constraints')
      d.paymentConstraints = {
        maxCltvExpiry: v.max_cltv_expiry,
        htlcMinimumMsat: BigInt(v.htlc_minimum_msat),
      };
    else if (k === 'allowed_features') d.allowedFeatures = features(v.features);
    else if (k.startsWith('unknown_tag_')) extra.push({ type: BigInt(k.slice(12)), value: hex(v) });
    else if (k !== 'path_key_override_secret') throw new Error(`unexpected vector field ${k}`);
  }
  if (extra.length > 0) d.extra = extra;
  return d;
}

function stripLength(prefixed: Uint8Array): Uint8Array {
  const r = new Reader(prefixed);
  const len = Number(r.bigsize());
  const out = r.rest();
  expect(out.length).toBe(len);
  return out;
}

describe('BOLT 4 route-blinding-test.json', () => {
  const G = RB.generate.hops as Json[];

  it('encodes each encrypted_data_tlv from its fields', () => {
    for (const h of G) {
      const enc = encodeEncryptedData(encData(h.tlvs));
      expect(toHex(enc)).toBe(h.encoded_tlvs);
      expect(decodeEncryptedData(enc)).toEqual(encData(h.tlvs));
    }
  });

  it('creates both blinded routes (path keys, shared secrets, rho, encrypted data, blinded ids) and concatenates them', () => {
    const part = (from: number, to: number) =>
      createBlindedPath(
        hex(G[from].session_key),
        G.slice(from, to).map((h: Json) => ({ nodeId: hex(h.node_id), encryptedData: hex(h.encoded_tlvs) })),
      );
    const first = part(0, 2);
    const second = part(2, 4);
    const secrets = [...first.secrets, ...second.secrets];
    const hops = [...first.path.hops, ...second.path.hops];
    G.forEach((h: Json, i: number) => {
      expect(toHex(secrets[i]!.pathPrivKey)).toBe(h.path_privkey);
      expect(toHex(secrets[i]!.pathKey)).toBe(h.path_key);
      expect(toHex(secrets[i]!.sharedSecret)).toBe(h.shared_secret);
      expect(toHex(secrets[i]!.rho)).toBe(h.rho);
      expect(toHex(hops[i]!.encryptedRecipientData)).toBe(h.encrypted_data);
      expect(toHex(hops[i]!.blindedNodeId)).toBe(h.blinded_node_id);
    });
    // Carol's override is the first path key of the Dave -> Eve route.
    expect(toHex(encData(G[1].tlvs).nextPathKeyOverride!)).toBe(toHex(second.path.firstPathKey));
    const route = RB.route;
    expect(toHex((first.path.firstNodeId as { nodeId: Uint8Array }).nodeId)).toBe(route.first_node_id);
    expect(toHex(first.path.firstPathKey)).toBe(route.first_path_key);
    route.hops.forEach((h: Json, i: number) => {
      expect(toHex(hops[i]!.blindedNodeId)).toBe(h.blinded_node_id);
      expect(toHex(hops[i]!.encryptedRecipientData)).toBe(h.encrypted_data);
    });
  });

  it('unblinds at each hop: blinded private key, decrypted data, next path key', () => {
    (RB.unblind.hops as Json[]).forEach((h, i) => {
      const priv = hex(h.node_privkey);
      const pathKey = hex(h.path_key);
      const u = unblindHop(priv, pathKey, hex(RB.route.hops[i].encrypted_data));
      expect(toHex(u.blindedPrivKey)).toBe(h.blinded_privkey);
      expect(toHex(secp().publicKey(u.blindedPrivKey))).toBe(RB.route.hops[i].blinded_node_id);
      expect(toHex(u.raw)).toBe(h.decrypted_data);
      expect(u.data).toEqual(encData(G[i].tlvs));
      expect(toHex(deriveNextPathKey(pathKey, u.sharedSecret))).toBe(h.next_path_key);
      expect(toHex(u.nextPathKey)).toBe(h.next_path_key_override ?? h.next_path_key);
    });
  });

  it('rejects tampered encrypted data with DecodeError', () => {
    const h = RB.unblind.hops[0];
    const bad = hex(RB.route.hops[0].encrypted_data);
    bad[3]! ^= 1;
    expect(() => unblindHop(hex(h.node_privkey), hex(h.path_key), bad)).toThrow(DecodeError);
  });
});

describe('BOLT 4 blinded-payment-onion-test.json', () => {
  const G = BP.generate;
  const full = G.full_route.hops as Json[];
  const blindedHops = G.blinded_route.hops as Json[];
  const RG = RB.generate.hops as Json[];

  it('recreates the blinded route from its encrypted_data_tlv fields (session keys of route-blinding-test.json)', () => {
    const plain = full.slice(1).map((h) => encodeEncryptedData(encData(h.tlvs.encrypted_recipient_data)));
    const part = (from: number, to: number) =>
      createBlindedPath(
        hex(RG[from].session_key),
        RG.slice(from, to).map((h: Json, j: number) => ({
          nodeId: hex(h.node_id),
          encryptedData: plain[from + j]!,
        })),
      );
    const hops = [...part(0, 2).path.hops, ...part(2, 4).path.hops];
    expect(toHex(part(0, 2).path.firstPathKey)).toBe(G.blinded_route.first_path_key);
    blindedHops.forEach((h, i) => {
      expect(toHex(hops[i]!.blindedNodeId)).toBe(h.blinded_node_id);
      expect(toHex(hops[i]!.encryptedRecipientData)).toBe(h.encrypted_data);
    });
  });

  it('encodes every hop payload from its fields', () => {
    full.forEach((h, i) => {
      const t = h.tlvs;
      const p: PaymentHopPayload = {};
      if (t.amt_to_forward !== undefined) p.amtToForward = BigInt(t.amt_to_forward);
      if (t.outgoing_cltv_value !== undefined) p.outgoingCltvValue = t.outgoing_cltv_value;
      if (t.outgoing_channel_id !== undefined) p.shortChannelId = scid(t.outgoing_channel_id);
      if (t.encrypted_recipient_data !== undefined)
        p.encryptedRecipientData = hex(blindedHops[i - 1].encrypted_data);
      if (t.current_path_key !== undefined) p.currentPathKey = hex(t.current_path_key);
      if (t.total_amount_msat !== undefined) p.totalAmountMsat = BigInt(t.total_amount_msat);
      const enc = encodePaymentPayload(p);
      expect(toHex(enc)).toBe(toHex(stripLength(hex(h.payload))));
      expect(decodePaymentPayload(enc)).toEqual(p);
    });
  });

  it('builds the onion byte-exact', () => {
    const built = createOnionPacket({
      sessionKey: hex(G.session_key),
      hops: full.map((h) => ({ pubkey: hex(h.pubkey), payload: stripLength(hex(h.payload)) })),
      associatedData: hex(G.associated_data),
    });
    expect(toHex(built.packet)).toBe(G.onion);
    expect(G.onion).toBe(BP.decrypt.hops[0].onion);
  });

  it('decrypts at each hop: payload, encrypted data, next path key, next onion', () => {
    const D = BP.decrypt.hops as Json[];
    const ad = hex(G.associated_data);
    let blindingPoint: Uint8Array | undefined;
    D.forEach((h, i) => {
      const out = peelOnion(hex(h.onion), hex(h.node_privkey), ad, blindingPoint ? { blindingPoint } : {});
      expect(toHex(out.rawPayload)).toBe(toHex(stripLength(hex(full[i].payload))));
      if (i + 1 < D.length) expect(toHex(out.nextPacket!)).toBe(D[i + 1].onion);
      else expect(out.final).toBe(true);
      if (h.next_path_key === undefined) {
        expect(out.blinded).toBeUndefined();
      } else {
        expect(out.blinded).toBeDefined();
        expect(out.blinded!.introductionNode).toBe(i === 1);
        expect(out.blinded!.data).toEqual(encData(full[i].tlvs.encrypted_recipient_data));
        expect(toHex(out.blinded!.nextPathKey)).toBe(h.next_path_key);
        blindingPoint = out.blinded!.nextPathKey;
      }
    });
  });

  it('every vector hop payload passes the BOLT 4 structural reader checks', () => {
    const D = BP.decrypt.hops as Json[];
    full.forEach((h, i) => {
      const p = decodePaymentPayload(stripLength(hex(h.payload)));
      const ctx = { isFinal: i === full.length - 1, hasPathKey: i >= 2 };
      expect(checkPaymentPayload(p, ctx)).toEqual({ ok: true });
      // The same payload with the wrong blinding context fails.
      expect(checkPaymentPayload(p, { ...ctx, hasPathKey: !ctx.hasPathKey }).ok).toBe(false);
    });
    expect(D.length).toBe(full.length);
    const { totalAmountMsat: _t, ...eve } = decodePaymentPayload(stripLength(hex(full[4].payload)));
    expect(checkPaymentPayload(eve, { isFinal: true, hasPathKey: true })).toMatchObject({
      ok: false,
      tlvType: 18n,
    });
    const bob = decodePaymentPayload(stripLength(hex(full[1].payload)));
    expect(
      checkPaymentPayload({ ...bob, amtToForward: 1n }, { isFinal: false, hasPathKey: false }),
    ).toMatchObject({
      ok: false,
      tlvType: 2n,
    });
    const alice = decodePaymentPayload(stripLength(hex(full[0].payload)));
    const { shortChannelId: _drop, ...noScid } = alice;
    expect(checkPaymentPayload(noScid, { isFinal: false, hasPathKey: false })).toMatchObject({
      ok: false,
      tlvType: 6n,
    });
    expect(checkPaymentPayload(noScid, { isFinal: true, hasPathKey: false })).toEqual({ ok: true });
  });

  it('forwards amounts and expiries per payment_relay down to the final hop values', () => {
    let amt = BigInt(full[0].tlvs.amt_to_forward);
    let cltv = full[0].tlvs.outgoing_cltv_value as number;
    for (let i = 1; i < full.length - 1; i++) {
      const relay = encData(full[i].tlvs.encrypted_recipient_data).paymentRelay!;
      amt = blindedForwardAmount(amt, relay)!;
      cltv -= relay.cltvExpiryDelta;
    }
    expect(amt).toBe(BigInt(G.final_amount_msat));
    expect(cltv).toBe(G.final_cltv);
  });

  it('rejects blinding misuse with invalid_onion_blinding', () => {
    const D = BP.decrypt.hops as Json[];
    const ad = hex(G.associated_data);
    // Inside a blinded route every failure is invalid_onion_blinding: Bob's onion (sent to his
    // real id) peeled as if he were a blinded hop fails its HMAC.
    const e1 = catchErr(() =>
      peelOnion(hex(D[1].onion), hex(D[1].node_privkey), ad, { blindingPoint: hex(D[1].next_path_key) }),
    );
    expect(e1).toBeInstanceOf(OnionBlindingError);
    expect((e1 as OnionBlindingError).failureCode).toBe(FailureCode.invalid_onion_blinding);
    // Carol without her path key cannot authenticate the onion (it was sent to her blinded id).
    const e2 = catchErr(() => peelOnion(hex(D[2].onion), hex(D[2].node_privkey), ad));
    expect((e2 as OnionPeelError).failureCode).toBe(FailureCode.invalid_onion_hmac);
    // A path_key in update_add_htlc plus current_path_key in the payload is an error.
    const carol = BP.generate.blinded_route.hops[1];
    const built = createOnionPacket({
      sessionKey: hex(G.session_key),
      hops: [
        {
          pubkey: hex(carol.blinded_node_id),
          payload: encodePaymentPayload({
            encryptedRecipientData: hex(carol.encrypted_data),
            currentPathKey: hex(D[1].next_path_key),
          }),
        },
      ],
      associatedData: ad,
    });
    const e3 = catchErr(() =>
      peelOnion(built.packet, hex(D[2].node_privkey), ad, { blindingPoint: hex(D[1].next_path_key) }),
    );
    expect(e3).toBeInstanceOf(OnionBlindingError);
    expect(toHex((e3 as OnionBlindingError).sharedSecret!)).toBe(toHex(built.sharedSecrets[0]!));
    // Without current_path_key the same hop peels and decrypts its data.
    const ok = createOnionPacket({
      sessionKey: hex(G.session_key),
      hops: [
        {
          pubkey: hex(carol.blinded_node_id),
          payload: encodePaymentPayload({ encryptedRecipientData: hex(carol.encrypted_data) }),
        },
      ],
      associatedData: ad,
    });
    const out = peelOnion(ok.packet, hex(D[2].node_privkey), ad, { blindingPoint: hex(D[1].next_path_key) });
    expect(toHex(out.blinded!.nextPathKey)).toBe(D[2].next_path_key);
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('BOLT 4 blinded-onion-message-onion-test.json', () => {
  const G = OM.generate.hops as Json[];
  const nodeIds = [OM.route.first_node_id, ...G.slice(0, -1).map((h) => h.tlvs.next_node_id)].map((x) =>
    hex(x),
  );

  it('encodes each encrypted_data_tlv', () => {
    for (const h of G) expect(toHex(encodeEncryptedData(encData(h.tlvs)))).toBe(h.encrypted_data_tlv);
  });

  it('derives every hop value (ss, tweaks, blinded id, E, next e, rho, encrypted data)', () => {
    const alice = createBlindedPath(hex(G[0].path_key_secret), [
      { nodeId: nodeIds[0]!, encryptedData: hex(G[0].encrypted_data_tlv) },
    ]);
    const rest = createBlindedPath(
      hex(G[1].path_key_secret),
      G.slice(1).map((h, j) => ({ nodeId: nodeIds[j + 1]!, encryptedData: hex(h.encrypted_data_tlv) })),
    );
    const secrets = [...alice.secrets, ...rest.secrets];
    const hops = [...alice.path.hops, ...rest.path.hops];
    G.forEach((h, i) => {
      const s = secrets[i]!;
      expect(toHex(s.pathPrivKey)).toBe(h.path_key_secret);
      expect(toHex(s.sharedSecret)).toBe(h.ss);
      expect(toHex(blindedNodeIdTweak(s.sharedSecret))).toBe(h["HMAC256('blinded_node_id', ss)"]);
      expect(toHex(hops[i]!.blindedNodeId)).toBe(h.blinded_node_id);
      expect(toHex(s.pathKey)).toBe(h.E);
      const H = blindingFactor(s.pathKey, s.sharedSecret);
      expect(toHex(H)).toBe(h['H(E || ss)']);
      // `next_e` is printed with a trailing 0x01 byte (compressed-key marker); compare the scalar.
      expect(toHex(secp().privMul(s.pathPrivKey, H))).toBe((h.next_e as string).slice(0, 64));
      expect(toHex(s.rho)).toBe(h.rho);
      expect(toHex(generateKey('rho', s.sharedSecret))).toBe(h.rho);
      expect(toHex(hops[i]!.encryptedRecipientData)).toBe(h.encrypted_recipient_data);
    });
    // Alice's override joins Dave's path at Bob.
    expect(toHex(encData(G[0].tlvs).nextPathKeyOverride!)).toBe(toHex(rest.path.firstPathKey));
    expect(toHex(secp().publicKey(hex(G[0].tlvs.path_key_override_secret)))).toBe(
      toHex(rest.path.firstPathKey),
    );
    expect(toHex(alice.path.firstPathKey)).toBe(OM.route.first_path_key);
    (OM.route.hops as Json[]).forEach((h, i) => {
      expect(toHex(hops[i]!.blindedNodeId)).toBe(h.blinded_node_id);
      expect(toHex(hops[i]!.encryptedRecipientData)).toBe(h.encrypted_recipient_data);
    });
  });

  function routeFromVector(): BlindedPath {
    return {
      firstNodeId: { nodeId: hex(OM.route.first_node_id) },
      firstPathKey: hex(OM.route.first_path_key),
      hops: (OM.route.hops as Json[]).map((h) => ({
        blindedNodeId: hex(h.blinded_node_id),
        encryptedRecipientData: hex(h.encrypted_recipient_data),
      })),
    };
  }

  it('builds the onion message packet and wire message byte-exact', () => {
    const created = createOnionMessage({
      sessionKey: hex(OM.generate.session_key),
      path: routeFromVector(),
      finalPayload: { extra: [{ type: 1n, value: hex(OM.onionmessage.unknown_tag_1) }] },
    });
    expect(toHex(created.message.packet)).toBe(OM.onionmessage.onion_message_packet);
    expect(toHex(created.firstNodeId)).toBe(OM.route.first_node_id);
    expect(toHex(encodeOnionMessage(created.message))).toBe(OM.decrypt.hops[0].onion_message);
  });

  it('peels at each hop: next node id, next onion_message, final payload', () => {
    const D = OM.decrypt.hops as Json[];
    D.forEach((h, i) => {
      const msg = decodeOnionMessage(hex(h.onion_message));
      expect(toHex(encodeOnionMessage(msg))).toBe(h.onion_message);
      const out = peelOnionMessage(msg, hex(h.privkey));
      expect(out.encryptedData).toEqual(encData(G[i].tlvs));
      if (i + 1 < D.length) {
        expect(out.final).toBe(false);
        if (out.final) return;
        expect('nodeId' in out.next && toHex(out.next.nodeId)).toBe(h.next_node_id);
        expect(toHex(encodeOnionMessage(out.message))).toBe(D[i + 1].onion_message);
      } else {
        expect(out.final).toBe(true);
        expect(out.payload.extra).toEqual([{ type: 1n, value: hex(h.tlvs.unknown_tag_1) }]);
        expect(toHex(out.payload.encryptedRecipientData!)).toBe(h.tlvs.encrypted_recipient_data);
        expect(toHex(out.encryptedData.pathId!)).toBe(G[i].tlvs.path_id);
      }
    });
  });

  it('ignores a message peeled with the wrong path key', () => {
    const D = OM.decrypt.hops as Json[];
    const msg = decodeOnionMessage(hex(D[1].onion_message));
    const wrong = { ...msg, pathKey: hex(OM.route.first_path_key) };
    expect(() => peelOnionMessage(wrong, hex(D[1].privkey))).toThrow(DecodeError);
  });
});

const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const point = fc.constantFrom(...(RB.generate.hops as Json[]).map((h) => hex(h.node_id)));
const oddExtra = fc
  .uniqueArray(fc.bigInt({ min: 8n, max: 1n << 30n }), { maxLength: 2, selector: (t) => t })
  .map((ts) =>
    ts
      .map((t) => t * 2n + 1n)
      .sort((a, b) => (a < b ? -1 : 1))
      .map((type) => ({ type, value: new Uint8Array([7]) })),
  );
const encDataArb: fc.Arbitrary<EncryptedData> = fc
  .record(
    {
      padding: fc.uint8Array({ maxLength: 40 }),
      shortChannelId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      nextNodeId: point,
      pathId: fc.uint8Array({ maxLength: 40 }),
      nextPathKeyOverride: point,
      paymentRelay: fc.record({
        cltvExpiryDelta: fc.integer({ min: 0, max: 0xffff }),
        feeProportionalMillionths: fc.integer({ min: 0, max: 0xffffffff }),
        feeBaseMsat: fc.bigInt({ min: 0n, max: 0xffffffffn }),
      }),
      paymentConstraints: fc.record({
        maxCltvExpiry: fc.integer({ min: 0, max: 0xffffffff }),
        htlcMinimumMsat: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      }),
      allowedFeatures: fc.uint8Array({ maxLength: 8 }),
      extra: oddExtra,
    },
    { requiredKeys: [] },
  )
  .map((d) => {
    if (d.extra?.length === 0) delete d.extra;
    return d;
  });

const pathArb: fc.Arbitrary<BlindedPath> = fc.record({
  firstNodeId: fc.oneof(
    point.map((nodeId) => ({ nodeId })),
    fc.record({
      shortChannelId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      direction: fc.constantFrom(0 as const, 1 as const),
    }),
  ),
  firstPathKey: point,
  hops: fc.array(
    fc.record({ blindedNodeId: point, encryptedRecipientData: fc.uint8Array({ maxLength: 60 }) }),
    {
      maxLength: 4,
    },
  ),
});

const omPayloadArb: fc.Arbitrary<OnionMessagePayload> = fc
  .record(
    {
      replyPath: pathArb,
      encryptedRecipientData: fc.uint8Array({ maxLength: 60 }),
      invoiceRequest: fc.uint8Array({ maxLength: 30 }),
      invoice: fc.uint8Array({ maxLength: 30 }),
      invoiceError: fc.uint8Array({ maxLength: 30 }),
      extra: oddExtra.map((x) => x.filter((r) => r.type > 70n)),
    },
    { requiredKeys: [] },
  )
  .map((d) => {
    if (d.extra?.length === 0) delete d.extra;
    return d;
  });

function onlyDecodeError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
  }
}

describe('BOLT 4 blinding and onion message codecs', () => {
  it('encrypted_data_tlv: decode(encode(d)) equals d', () => {
    fc.assert(
      fc.property(encDataArb, (d) => void expect(decodeEncryptedData(encodeEncryptedData(d))).toEqual(d)),
      {
        numRuns: 200,
      },
    );
  });

  it('blinded_path: decode(encode(p)) equals p', () => {
    fc.assert(
      fc.property(pathArb, (p) => void expect(decodeBlindedPath(encodeBlindedPath(p))).toEqual(p)),
      {
        numRuns: 200,
      },
    );
  });

  it('onionmsg_tlv: decode(encode(p)) equals p', () => {
    fc.assert(
      fc.property(
        omPayloadArb,
        (p) => void expect(decodeOnionMessagePayload(encodeOnionMessagePayload(p))).toEqual(p),
      ),
      { numRuns: 200 },
    );
  });

  it('random bytes and truncations only ever throw DecodeError', () => {
    const valid = fc.oneof(
      encDataArb.map(encodeEncryptedData),
      pathArb.map(encodeBlindedPath),
      omPayloadArb.map(encodeOnionMessagePayload),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          valid.chain((b) => fc.nat({ max: b.length }).map((n) => b.subarray(0, n))),
        ),
        (b) => {
          onlyDecodeError(() => decodeEncryptedData(b));
          onlyDecodeError(() => decodeBlindedPath(b));
          onlyDecodeError(() => decodeOnionMessagePayload(b));
          onlyDecodeError(() => decodeOnionMessage(b));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('random onion messages and random encrypted data only ever throw DecodeError', () => {
    const D = OM.decrypt.hops as Json[];
    const priv = hex(D[0].privkey);
    const pathKey = hex(OM.route.first_path_key);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), bytesN(33), (packet, pk) => {
        onlyDecodeError(() => peelOnionMessage({ pathKey: pk, packet }, priv));
        onlyDecodeError(() => peelOnionMessage({ pathKey, packet }, priv));
        onlyDecodeError(() => unblindHop(priv, pk, packet));
        onlyDecodeError(() => unblindHop(priv, pathKey, packet));
      }),
      { numRuns: 40 },
    );
  });
});
