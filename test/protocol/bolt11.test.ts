import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  type Bolt11BlindedPath,
  type Bolt11Field,
  type Bolt11Network,
  bech32Char,
  bech32DecodeUnlimited,
  bech32EncodeUnlimited,
  decodeInvoice,
  encodeBolt11Field,
  encodeInvoice,
  formatHrp,
  formatShortChannelId,
  isHighS,
  parseInvoice,
} from '../../src/protocol/invoice/index.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

const valid = loadVector('bolt11/valid-invoices.json');
const invalid = loadVector('bolt11/invalid-invoices.json');
const blip39 = loadVector('blips/blip-0039-bolt11-blinded-path-invoice.json');
const PRIV = hex(valid.signing_privkey);

const NETWORK_BY_PREFIX: Record<string, Bolt11Network> = {
  lnbc: 'bitcoin',
  lntb: 'testnet',
  lntbs: 'signet',
  lnbcrt: 'regtest',
};

const wordsToChars = (w: Uint8Array) => Array.from(w, bech32Char).join('');

/** A decoded field in the vector file's JSON shape. */
function vectorValue(f: Bolt11Field): unknown {
  switch (f.kind) {
    case 'payment_hash':
    case 'payment_secret':
    case 'description_hash':
    case 'payee':
    case 'metadata':
      return toHex(f.value);
    case 'description':
    case 'expiry':
    case 'min_final_cltv_expiry_delta':
      return f.value;
    case 'features':
      return { bits: f.value };
    case 'fallback': {
      const key = f.value.version === 17 || f.value.version === 18 ? 'hash_hex' : 'program_hex';
      return {
        version: f.value.version,
        type: f.value.type,
        [key]: toHex(f.value.program),
        address: f.value.address,
      };
    }
    case 'route_hint':
      return f.value.map((h) => ({
        pubkey: toHex(h.pubkey),
        short_channel_id: formatShortChannelId(h.shortChannelId),
        fee_base_msat: h.feeBaseMsat,
        fee_proportional_millionths: h.feeProportionalMillionths,
        cltv_expiry_delta: h.cltvExpiryDelta,
      }));
    case 'blinded_path':
    case 'raw':
      return undefined;
  }
}

function fieldType(f: Bolt11Field): number {
  return encodeBolt11Field(f)[0]!;
}

describe('BOLT 11 valid invoices (spec examples)', () => {
  it('has the 16 cases the README announces', () => {
    expect(valid.cases.length).toBe(16);
  });

  for (const c of valid.cases) {
    it(`decodes ${c.name}`, () => {
      const inv = decodeInvoice(c.invoice);
      expect(inv.hrp).toBe(c.hrp);
      expect(inv.network).toBe(NETWORK_BY_PREFIX[c.currency_prefix]);
      expect(inv.amountMsat).toBe(c.amount_msat === null ? null : BigInt(c.amount_msat));
      expect(formatHrp(inv.network, inv.amountMsat)).toBe(c.hrp);
      expect(inv.timestamp).toBe(c.timestamp);
      expect(toHex(inv.payee)).toBe(c.payee_pubkey);
      expect(toHex(inv.signature)).toBe(c.signature);
      expect(inv.recoveryId).toBe(c.recovery_id);
      expect(isHighS(inv.signature)).toBe(c.signature_is_high_s);
      expect(toHex(inv.signingHash)).toBe(c.signing_hash);
      expect(toHex(sha256(hex(c.signing_data_hex)))).toBe(c.signing_hash);

      const d = c.decoded;
      expect(toHex(inv.paymentHash)).toBe(d.payment_hash);
      expect(inv.paymentSecret && toHex(inv.paymentSecret)).toBe(d.payment_secret ?? null);
      expect(inv.description).toBe(d.description ?? null);
      expect(inv.descriptionHash && toHex(inv.descriptionHash)).toBe(d.description_hash ?? null);
      expect(inv.expiry).toBe(d.expiry_seconds ?? 3600);
      expect(inv.minFinalCltvExpiryDelta).toBe(d.min_final_cltv_expiry_delta ?? 18);
      expect(inv.metadata && toHex(inv.metadata)).toBe(d.metadata ?? null);
      expect(inv.payeeNodeId && toHex(inv.payeeNodeId)).toBe(d.payee_node_id ?? null);
      expect(inv.features).toEqual(d.features?.bits ?? []);
      expect(inv.fallbacks.map((f) => vectorValue({ kind: 'fallback', value: f }))).toEqual(
        d.fallbacks ?? [],
      );
      expect(inv.routeHints.map((r) => vectorValue({ kind: 'route_hint', value: r }))).toEqual(
        d.route_hints ?? [],
      );
      expect(inv.blindedPaths).toEqual([]);

      // Every tagged field, in order, with its type, data_length and value (or raw data if ignored).
      expect(inv.fields.length).toBe(c.tagged_fields.length);
      c.tagged_fields.forEach((t: Record<string, unknown>, i: number) => {
        const f = inv.fields[i]!;
        const words = encodeBolt11Field(f);
        expect(words[0]).toBe(t.type);
        expect(words[1]! * 32 + words[2]!).toBe(t.data_length);
        expect(t.tag === null ? null : bech32Char(fieldType(f))).toBe(t.tag);
        if (t.ignored) {
          expect(f.kind).toBe('raw');
          expect(wordsToChars(words.subarray(3))).toBe(t.raw_data);
        } else {
          expect(vectorValue(f)).toEqual(t.value);
        }
      });
    });
  }

  for (const c of valid.cases.filter((x: { signature_is_high_s: boolean }) => !x.signature_is_high_s)) {
    it(`re-encodes and signs ${c.name} to the identical string (RFC 6979)`, () => {
      const inv = decodeInvoice(c.invoice);
      const uppercase = c.invoice === c.invoice.toUpperCase();
      const out = encodeInvoice(
        { network: inv.network, amountMsat: inv.amountMsat, timestamp: inv.timestamp, fields: inv.fields },
        PRIV,
        { uppercase },
      );
      expect(out).toBe(c.invoice);
    });
  }

  it('high-S example: recovery accepts it; the payee is plain recovery; re-signing gives the low-S twin', () => {
    const c = valid.cases.find((x: { name: string }) => x.name === 'high_s_signature_recovery');
    const inv = decodeInvoice(c.invoice);
    expect(isHighS(inv.signature)).toBe(true);
    expect(toHex(inv.payee)).toBe(c.payee_pubkey);
    expect(toHex(inv.payee)).not.toBe(c.signer_pubkey);
    expect(toHex(secp().publicKey(PRIV))).toBe(c.signer_pubkey);
    // Same data part as the first example; a deterministic low-S signature reproduces that invoice.
    const twin = valid.cases.find(
      (x: { signing_hash: string; name: string }) => x.signing_hash === c.signing_hash && x.name !== c.name,
    );
    const out = encodeInvoice(
      { network: inv.network, amountMsat: inv.amountMsat, timestamp: inv.timestamp, fields: inv.fields },
      PRIV,
    );
    expect(out).toBe(twin.invoice);
  });
});

describe('BOLT 11 invalid invoices (spec examples)', () => {
  it('has the 10 cases the README announces', () => {
    expect(invalid.cases.length).toBe(10);
  });
  for (const c of invalid.cases) {
    it(`rejects ${c.name} with ${c.reason}`, () => {
      let err: unknown;
      try {
        decodeInvoice(c.invoice);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code).toBe(`BOLT11_${c.reason.toUpperCase()}`);
    });
  }
});

describe('bLIP-39 blinded paths in BOLT 11', () => {
  const inv = decodeInvoice(blip39.invoice);

  it('decodes the invoice fields', () => {
    expect(toHex(inv.payee)).toBe(blip39.payee_pubkey);
    expect(toHex(secp().publicKey(hex(blip39.signing_privkey)))).toBe(blip39.payee_pubkey);
    expect(inv.amountMsat).toBe(BigInt(blip39.amount_msat));
    expect(inv.timestamp).toBe(blip39.timestamp);
    expect(toHex(inv.paymentHash)).toBe(blip39.decoded.payment_hash);
    expect(inv.description).toBe(blip39.decoded.description);
    expect(inv.paymentSecret).toBeNull();
    expect(blip39.feature_bits).toBeNull();
    expect(inv.features).toEqual([]);
  });

  it('decodes both blinded paths exactly', () => {
    const asVector = (p: Bolt11BlindedPath) => ({
      fee_base_msat: p.feeBaseMsat,
      fee_proportional_millionths: p.feeProportionalMillionths,
      cltv_expiry_delta: p.cltvExpiryDelta,
      htlc_minimum_msat: p.htlcMinimumMsat.toString(),
      htlc_maximum_msat: p.htlcMaximumMsat.toString(),
      features_hex: toHex(p.features),
      first_ephemeral_blinding_point: toHex(p.firstEphemeralBlindingPoint),
      num_hops: p.hops.length,
      blinded_hops: p.hops.map((h) => ({
        blinded_node_pubkey: toHex(h.blindedNodeId),
        cipher_text: toHex(h.encryptedData),
      })),
    });
    const expected = blip39.blinded_paths.map((p: Record<string, unknown>) => {
      const { _encoded_hex, ...rest } = p;
      return rest;
    });
    expect(inv.blindedPaths.map(asVector)).toEqual(expected);
  });

  it('keeps the tagged fields in order, with the b fields matching their raw data', () => {
    expect(inv.fields.length).toBe(blip39.tagged_fields.length);
    blip39.tagged_fields.forEach((t: Record<string, unknown>, i: number) => {
      const words = encodeBolt11Field(inv.fields[i]!);
      expect(words[0]).toBe(t.type);
      expect(words[1]! * 32 + words[2]!).toBe(t.data_length);
      if (t.tag === 'b') {
        expect(wordsToChars(words.subarray(3))).toBe(t.raw_data);
        const f = inv.fields[i]!;
        expect(f.kind).toBe('blinded_path');
        if (f.kind === 'blinded_path') expect(f.value).toEqual(inv.blindedPaths[t.value as number]);
      } else {
        expect(vectorValue(inv.fields[i]!)).toEqual(t.value);
      }
    });
  });

  it('re-encodes to the identical string', () => {
    const out = encodeInvoice(
      { network: inv.network, amountMsat: inv.amountMsat, timestamp: inv.timestamp, fields: inv.fields },
      hex(blip39.signing_privkey),
    );
    expect(out).toBe(blip39.invoice);
  });
});

describe('BOLT 11 writer rules', () => {
  const base = (fields: Bolt11Field[]) => ({ network: 'bitcoin' as const, timestamp: 1, fields });
  const ph: Bolt11Field = { kind: 'payment_hash', value: new Uint8Array(32) };
  const ps: Bolt11Field = { kind: 'payment_secret', value: new Uint8Array(32) };
  const d: Bolt11Field = { kind: 'description', value: 'x' };
  it('refuses invoices a reader must reject', () => {
    expect(() => encodeInvoice(base([ps, d]), PRIV)).toThrow(/payment_hash/);
    expect(() => encodeInvoice(base([ph, ps]), PRIV)).toThrow(/description/);
    expect(() => encodeInvoice(base([ph, d]), PRIV)).toThrow(/payment_secret/);
    expect(() =>
      encodeInvoice(base([ph, ps, d, { kind: 'payee', value: new Uint8Array(33).fill(2) }]), PRIV),
    ).toThrow(/n field/);
    expect(() => encodeInvoice({ ...base([ph, ps, d]), amountMsat: 0n }, PRIV)).toThrow(/positive/);
  });
  it('keeps a leading U+FEFF in the description (round trip)', () => {
    const str = encodeInvoice(base([ph, ps, { kind: 'description', value: '\ufeffhi' }]), PRIV);
    expect(decodeInvoice(str).description).toBe('\ufeffhi');
  });

  it('verifies against the n field: a tampered data part fails with BOLT11_INVALID_SIGNATURE', () => {
    const str = encodeInvoice(base([ph, ps, d, { kind: 'payee', value: secp().publicKey(PRIV) }]), PRIV);
    expect(toHex(decodeInvoice(str).payee)).toBe(toHex(secp().publicKey(PRIV)));
    const { hrp, words } = bech32DecodeUnlimited(str);
    const bad = words.slice();
    bad[12] = bad[12]! ^ 1; // inside the payment hash
    let err: unknown;
    try {
      decodeInvoice(bech32EncodeUnlimited(hrp, bad));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('BOLT11_INVALID_SIGNATURE');
  });

  it('parses every prefix and rejects unknown prefixes and zero amounts', () => {
    const codeOf = (hrp: string) => {
      try {
        parseInvoice(bech32EncodeUnlimited(hrp, new Uint8Array(120)));
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        return (e as DecodeError).code;
      }
      return 'ok';
    };
    expect(codeOf('lnxy')).toBe('BOLT11_UNKNOWN_PREFIX');
    expect(codeOf('lnbcx')).toBe('BOLT11_UNKNOWN_PREFIX');
    expect(codeOf('bc1')).toBe('BOLT11_UNKNOWN_PREFIX');
    expect(codeOf('lnbc0')).toBe('BOLT11_INVALID_AMOUNT');
    expect(codeOf('lnbc1mm')).toBe('BOLT11_INVALID_MULTIPLIER');
    for (const net of ['bitcoin', 'testnet', 'signet', 'regtest'] as const) {
      const str = encodeInvoice({ ...base([ph, ps, d]), network: net, amountMsat: 1230n }, PRIV);
      const inv = decodeInvoice(str);
      expect(inv.network).toBe(net);
      expect(inv.amountMsat).toBe(1230n);
    }
  });

  it('uses the largest exact multiplier', () => {
    expect(formatHrp('bitcoin', 100_000_000_000n)).toBe('lnbc1');
    expect(formatHrp('regtest', 1n)).toBe('lnbcrt10p');
    expect(formatHrp('signet', 100_000n)).toBe('lntbs1u');
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests

const privKey = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp().isPrivateKey(k));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const pubLike = fc.uint8Array({ minLength: 33, maxLength: 33 });

const fallbackArb = fc.oneof(
  fc.record({ version: fc.constantFrom(17, 18), program: fc.uint8Array({ minLength: 20, maxLength: 20 }) }),
  fc.record({
    version: fc.constant(0),
    program: fc.oneof(fc.uint8Array({ minLength: 20, maxLength: 20 }), bytes32),
  }),
  fc.record({
    version: fc.integer({ min: 1, max: 16 }),
    program: fc.uint8Array({ minLength: 2, maxLength: 40 }),
  }),
);
const hopArb = fc.record({
  pubkey: pubLike,
  shortChannelId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  feeBaseMsat: u32,
  feeProportionalMillionths: u32,
  cltvExpiryDelta: u16,
});
const blindedArb: fc.Arbitrary<Bolt11BlindedPath> = fc.record({
  feeBaseMsat: u32,
  feeProportionalMillionths: u32,
  cltvExpiryDelta: u16,
  htlcMinimumMsat: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  htlcMaximumMsat: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  features: fc.uint8Array({ maxLength: 4 }),
  firstEphemeralBlindingPoint: pubLike,
  hops: fc.array(fc.record({ blindedNodeId: pubLike, encryptedData: fc.uint8Array({ maxLength: 40 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
});
// Known feature bits from the invoice context plus arbitrary odd (ignorable) bits.
const featuresArb = fc
  .uniqueArray(
    fc.oneof(
      fc.constantFrom(8, 9, 14, 15, 16, 17, 24, 25, 48, 49),
      fc.integer({ min: 0, max: 300 }).map((b) => b | 1),
    ),
    {
      minLength: 1,
      maxLength: 6,
    },
  )
  .map((b) => b.sort((x, y) => x - y));

const invoiceArb = fc.record({
  network: fc.constantFrom<Bolt11Network>('bitcoin', 'testnet', 'signet', 'regtest'),
  amountMsat: fc.option(fc.bigInt({ min: 1n, max: 21_000_000n * 100_000_000_000n })),
  timestamp: fc.integer({ min: 0, max: 2 ** 35 - 1 }),
  paymentHash: bytes32,
  desc: fc.oneof(
    fc
      .string({ maxLength: 100, unit: 'binary' })
      .map((s): Bolt11Field => ({ kind: 'description', value: s })),
    bytes32.map((v): Bolt11Field => ({ kind: 'description_hash', value: v })),
  ),
  secretOrPaths: fc.oneof(
    bytes32.map((v): Bolt11Field[] => [{ kind: 'payment_secret', value: v }]),
    fc
      .array(blindedArb, { minLength: 1, maxLength: 2 })
      .map((ps) => ps.map((p): Bolt11Field => ({ kind: 'blinded_path', value: p }))),
  ),
  expiry: fc.option(fc.integer({ min: 0, max: 2 ** 45 })),
  cltv: fc.option(fc.integer({ min: 0, max: 2 ** 20 })),
  fallbacks: fc.array(fallbackArb, { maxLength: 2 }),
  routes: fc.array(fc.array(hopArb, { minLength: 1, maxLength: 3 }), { maxLength: 2 }),
  features: fc.option(featuresArb),
  metadata: fc.option(fc.uint8Array({ maxLength: 50 })),
  withPayee: fc.boolean(),
  unknown: fc.option(
    fc.record({
      type: fc.constantFrom(0, 2, 4, 7, 8, 10, 11),
      words: fc.uint8Array({ maxLength: 30, max: 31 }),
    }),
  ),
});

describe('BOLT 11 properties', () => {
  it('decode(encode(x)) returns the same fields, amount, timestamp and payee', () => {
    fc.assert(
      fc.property(invoiceArb, privKey, fc.boolean(), (r, key, upper) => {
        const pub = secp().publicKey(key);
        const fields: Bolt11Field[] = [
          { kind: 'payment_hash', value: r.paymentHash },
          r.desc,
          ...r.secretOrPaths,
        ];
        if (r.expiry !== null) fields.push({ kind: 'expiry', value: r.expiry });
        if (r.cltv !== null) fields.push({ kind: 'min_final_cltv_expiry_delta', value: r.cltv });
        for (const f of r.fallbacks) fields.push({ kind: 'fallback', value: f });
        for (const h of r.routes) fields.push({ kind: 'route_hint', value: h });
        if (r.features !== null) fields.push({ kind: 'features', value: r.features });
        if (r.metadata !== null) fields.push({ kind: 'metadata', value: r.metadata });
        if (r.withPayee) fields.push({ kind: 'payee', value: pub });
        if (r.unknown !== null) fields.push({ kind: 'raw', type: r.unknown.type, words: r.unknown.words });
        const str = encodeInvoice(
          { network: r.network, amountMsat: r.amountMsat, timestamp: r.timestamp, fields },
          key,
          { uppercase: upper },
        );
        const inv = decodeInvoice(str);
        expect(inv.network).toBe(r.network);
        expect(inv.amountMsat).toBe(r.amountMsat);
        expect(inv.timestamp).toBe(r.timestamp);
        expect(toHex(inv.payee)).toBe(toHex(pub));
        expect(inv.fields.length).toBe(fields.length);
        inv.fields.forEach((f, i) => {
          const want = fields[i]!;
          if (f.kind === 'fallback' && want.kind === 'fallback') {
            expect(f.value.version).toBe(want.value.version);
            expect(toHex(f.value.program)).toBe(toHex(want.value.program));
            expect(typeof f.value.address).toBe('string');
          } else {
            expect(f).toEqual(want);
          }
        });
        // Re-encoding the decoded fields reproduces the string exactly.
        expect(
          encodeInvoice(
            {
              network: inv.network,
              amountMsat: inv.amountMsat,
              timestamp: inv.timestamp,
              fields: inv.fields,
            },
            key,
            {
              uppercase: upper,
            },
          ),
        ).toBe(str);
      }),
      { numRuns: 60 },
    );
  });

  const onlyDecodeErrors = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
    }
  };

  it('random strings only throw DecodeError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        onlyDecodeErrors(() => decodeInvoice(s));
        onlyDecodeErrors(() => decodeInvoice(`lnbc1${s}`));
      }),
      { numRuns: 300 },
    );
  });

  it('random data with a valid checksum (any hrp) only throws DecodeError', () => {
    const hrps = [
      'lnbc',
      'lntb',
      'lnbcrt',
      'lntbs',
      'lnbc2500u',
      'lnbc10p',
      'lnxy',
      'ln',
      'bc',
      'lnbc1m',
      'lnbc0',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...hrps), fc.uint8Array({ maxLength: 400, max: 31 }), (hrp, words) => {
        onlyDecodeErrors(() => parseInvoice(bech32EncodeUnlimited(hrp, words)));
      }),
      { numRuns: 400 },
    );
  });

  it('truncations and word mutations of valid invoices (re-checksummed) only throw DecodeError', () => {
    const sources: string[] = [...valid.cases.map((c: { invoice: string }) => c.invoice), blip39.invoice];
    fc.assert(
      fc.property(
        fc.constantFrom(...sources),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 31 }),
        (s, cut, pos, val) => {
          const { hrp, words } = bech32DecodeUnlimited(s);
          const truncated = words.slice(0, cut % (words.length + 1));
          onlyDecodeErrors(() => decodeInvoice(bech32EncodeUnlimited(hrp, truncated)));
          const mutated = words.slice();
          mutated[pos % mutated.length] = val;
          onlyDecodeErrors(() => parseInvoice(bech32EncodeUnlimited(hrp, mutated)));
          // Raw string truncation / character change.
          onlyDecodeErrors(() => decodeInvoice(s.slice(0, cut % (s.length + 1))));
        },
      ),
      { numRuns: 300 },
    );
  });
});
