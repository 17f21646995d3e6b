/**
 * BOLT 1 vectors: BigSize (Appendix A), TLV streams (Appendix B, namespaces n1/n2 built as typed
 * decoders from the vector file), message extension (Appendix C), signed integers (Appendix D).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/protocol/encoding/bytes.js';
import { Reader } from '../../src/protocol/encoding/reader.js';
import { decodeTlvStream } from '../../src/protocol/encoding/tlv.js';
import { encodeBigSize, Writer } from '../../src/protocol/encoding/writer.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  type Codec,
  point,
  shortChannelId,
  struct,
  type TlvSchema,
  tlv,
  tlvStream,
  tu32,
  tu64,
  u16,
  u64,
} from '../../src/protocol/wire/codec.js';
import { decodeMessage, encodeMessage, type Init } from '../../src/protocol/wire/messages.js';
import { scidToString } from '../../src/protocol/wire/scid.js';
import { hex, loadVector, toHex } from '../helpers/vectors.js';

function expectDecodeError(fn: () => unknown, code?: string): DecodeError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(DecodeError);
  if (code !== undefined) expect((err as DecodeError).code).toBe(code);
  return err as DecodeError;
}

describe('BOLT 1 BigSize', () => {
  const dec = loadVector('bolt01/bigsize-decoding.json');
  const enc = loadVector('bolt01/bigsize-encoding.json');
  // Upstream (lnd) error strings → our DecodeError codes.
  const ERR: Record<string, string> = {
    'decoded bigsize is not canonical': 'DECODE_BIGSIZE_NONCANONICAL',
    'unexpected EOF': 'DECODE_SHORT_READ',
    EOF: 'DECODE_SHORT_READ',
  };

  it.each(dec.cases as { name: string; value: string; bytes: string; exp_error?: string }[])(
    'decodes: $name',
    (c) => {
      const r = new Reader(hex(c.bytes));
      if (c.exp_error !== undefined) {
        expectDecodeError(() => r.bigsize(), ERR[c.exp_error]);
      } else {
        expect(r.bigsize()).toBe(BigInt(c.value));
        expect(r.done).toBe(true);
      }
    },
  );

  it.each(enc.cases as { name: string; value: string; bytes: string }[])('encodes: $name', (c) => {
    expect(toHex(encodeBigSize(BigInt(c.value)))).toBe(c.bytes);
    expect(toHex(new Writer().bigsize(BigInt(c.value)).finish())).toBe(c.bytes);
  });

  it('round-trips any u64 and rejects only with DecodeError', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => {
        expect(new Reader(encodeBigSize(v)).bigsize()).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 10 }), (b) => {
        try {
          new Reader(b).bigsize();
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
});

describe('BOLT 1 signed integers', () => {
  const v = loadVector('bolt01/signed-integers.json');
  it.each(v.cases as { value: string; bytes: string; type: 's8' | 's16' | 's32' | 's64' }[])(
    '$type $value',
    (c) => {
      const r = new Reader(hex(c.bytes));
      const w = new Writer();
      switch (c.type) {
        case 's8':
          expect(r.s8()).toBe(Number(c.value));
          w.s8(Number(c.value));
          break;
        case 's16':
          expect(r.s16()).toBe(Number(c.value));
          w.s16(Number(c.value));
          break;
        case 's32':
          expect(r.s32()).toBe(Number(c.value));
          w.s32(Number(c.value));
          break;
        case 's64':
          expect(r.s64()).toBe(BigInt(c.value));
          w.s64(BigInt(c.value));
          break;
      }
      expect(r.done).toBe(true);
      expect(toHex(w.finish())).toBe(c.bytes);
    },
  );
});

// ---- TLV streams -----------------------------------------------------------------------------

interface NsField {
  name: string;
  type: string;
}
interface NsRecord {
  type: number;
  name: string;
  fields: NsField[];
}
interface TlvCase {
  namespace: 'any' | 'n1' | 'n2';
  stream: string;
  valid: boolean;
  error?: string;
  records?: { type: number; name: string; fields: Record<string, string> }[];
}

const FIELD_CODECS: Record<string, Codec<unknown>> = {
  tu64,
  tu32,
  u64,
  u16,
  point,
  short_channel_id: shortChannelId,
};

/** Builds a typed TLV stream from the vector file's namespace description. */
function buildNamespace(records: NsRecord[]) {
  const schema: TlvSchema = {};
  for (const rec of records) {
    const fields: Record<string, Codec<unknown>> = {};
    for (const f of rec.fields) {
      const c = FIELD_CODECS[f.type];
      if (!c) throw new Error(`no codec for ${f.type}`);
      fields[f.name] = c;
    }
    schema[rec.name] = tlv(rec.type, struct(fields));
  }
  return tlvStream(schema);
}

/** Upstream failure labels (our vector file's `error`) → DecodeError codes. */
const TLV_ERRORS: Record<string, string> = {
  type_truncated: 'DECODE_SHORT_READ',
  type_not_minimal: 'DECODE_BIGSIZE_NONCANONICAL',
  length_missing: 'DECODE_SHORT_READ',
  length_truncated: 'DECODE_SHORT_READ',
  value_missing: 'TLV_LENGTH_EXCEEDS',
  length_not_minimal: 'DECODE_BIGSIZE_NONCANONICAL',
  value_truncated: 'TLV_LENGTH_EXCEEDS',
  unknown_even_type: 'TLV_UNKNOWN_EVEN',
  tu64_not_minimal: 'DECODE_TRUNCATED_NONMINIMAL',
  value_too_long: 'TLV_VALUE_TOO_LONG',
  value_too_short: 'TLV_VALUE_TOO_SHORT',
  invalid_point: 'WIRE_INVALID_POINT',
  invalid_ordering: 'TLV_NOT_INCREASING',
  duplicate_type: 'TLV_NOT_INCREASING',
};

/** Renders decoded values in the vector's notation (decimal strings, scid text + hex, node_id hex). */
function render(values: Record<string, unknown>, ns: NsRecord[]) {
  const out: { type: number; name: string; fields: Record<string, string> }[] = [];
  for (const rec of ns) {
    const v = values[rec.name] as Record<string, unknown> | undefined;
    if (v === undefined) continue;
    const fields: Record<string, string> = {};
    for (const f of rec.fields) {
      const x = v[f.name];
      if (f.type === 'short_channel_id') {
        fields[f.name] = scidToString(x as bigint);
        fields[`${f.name}_u64_hex`] = (x as bigint).toString(16).padStart(16, '0');
      } else if (f.type === 'point') fields[f.name] = toHex(x as Uint8Array);
      else fields[f.name] = String(x);
    }
    out.push({ type: rec.type, name: rec.name, fields });
  }
  return out;
}

describe('BOLT 1 TLV streams (Appendix B)', () => {
  const v = loadVector('bolt01/tlv-stream.json');
  const nsDefs = v.namespaces as Record<'n1' | 'n2', NsRecord[]>;
  const namespaces = { n1: buildNamespace(nsDefs.n1), n2: buildNamespace(nsDefs.n2) };
  const cases = v.cases as TlvCase[];

  it('maps every upstream error label', () => {
    for (const c of cases) if (!c.valid) expect(TLV_ERRORS[c.error!], c.error).toBeDefined();
  });

  for (const [i, c] of cases.entries()) {
    const targets = c.namespace === 'any' ? (['n1', 'n2'] as const) : ([c.namespace] as const);
    for (const ns of targets) {
      const label = `#${i} ${ns} ${c.valid ? 'valid' : c.error} ${c.stream.slice(0, 24)}`;
      it(label, () => {
        const stream = namespaces[ns];
        if (!c.valid) {
          expectDecodeError(() => stream.decode(hex(c.stream)), TLV_ERRORS[c.error!]);
          return;
        }
        const { values, unknown } = stream.decode(hex(c.stream));
        expect(render(values as Record<string, unknown>, nsDefs[ns])).toEqual(c.records);
        // Re-encoding the known + ignored records reproduces the stream exactly.
        expect(toHex(stream.encode(values, unknown))).toBe(c.stream);
      });
    }
  }

  it('appending an invalid stream to a valid one fails; ordered valid streams concatenate', () => {
    for (const ns of ['n1', 'n2'] as const) {
      const applicable = cases.filter((c) => c.namespace === 'any' || c.namespace === ns);
      const valid = applicable.filter((c) => c.valid && c.stream !== '');
      const invalid = applicable.filter((c) => !c.valid);
      const stream = namespaces[ns];
      for (const a of valid) {
        for (const b of invalid) {
          expectDecodeError(() => stream.decode(hex(a.stream + b.stream)));
        }
        const aTypes = decodeTlvStream(hex(a.stream)).map((r) => r.type);
        for (const b of valid) {
          const bTypes = decodeTlvStream(hex(b.stream)).map((r) => r.type);
          if (aTypes[aTypes.length - 1]! >= bTypes[0]!) continue;
          const both = stream.decode(concat(hex(a.stream), hex(b.stream)));
          const { values: va } = stream.decode(hex(a.stream));
          const { values: vb } = stream.decode(hex(b.stream));
          expect(both.values).toEqual({ ...va, ...vb });
        }
      }
    }
  });

  it('random streams only ever throw DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        for (const s of [namespaces.n1, namespaces.n2]) {
          try {
            s.decode(b);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('BOLT 1 message extension (Appendix C)', () => {
  const v = loadVector('bolt01/init-message-extension.json');
  const ERR: Record<string, string> = {
    extension_truncated: 'DECODE_SHORT_READ',
    unknown_even_tlv: 'TLV_UNKNOWN_EVEN',
    duplicate_tlv_type: 'TLV_NOT_INCREASING',
  };
  it.each(v.cases as { message: string; valid: boolean; note: string }[])('$note', (c) => {
    if (!c.valid) {
      expectDecodeError(() => decodeMessage(hex(c.message)), ERR[c.note]);
      return;
    }
    const m = decodeMessage(hex(c.message)) as Init;
    expect(m.type).toBe('init');
    expect(toHex(m.globalFeatures)).toBe('');
    expect(toHex(m.features)).toBe('');
    // The extension holds only unknown odd records: kept, and re-encoded byte-identically.
    const ext = hex(c.message).subarray(6);
    expect(m.unknownTlvs ?? []).toEqual(decodeTlvStream(ext));
    expect(m.networks).toBeUndefined();
    expect(toHex(encodeMessage(m))).toBe(c.message);
  });
});
