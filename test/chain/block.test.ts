import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockHashOf, decodeBlock, decodeHeader } from '../../src/node/chain/block.js';
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { utf8 } from '../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../src/protocol/errors.js';
import { p2wpkh } from '../../src/protocol/tx/script.js';
import { txidHex } from '../../src/protocol/tx/transaction.js';
import { makeBlock } from './stub-servers.js';

const tx = (n: number) => ({
  version: 2,
  locktime: n,
  inputs: [
    {
      txid: sha256(utf8(`b${n}`)),
      vout: n,
      scriptSig: new Uint8Array(0),
      sequence: 0,
      witness: [Uint8Array.of(n)],
    },
  ],
  outputs: [{ value: BigInt(n * 1000), scriptPubKey: p2wpkh(Uint8Array.of(2, ...sha256(utf8(`k${n}`)))) }],
});

describe('raw block decoding', () => {
  const prev = 'ab'.repeat(32);
  const b = makeBlock(prev, 1_700_000_123, [tx(1), tx(2), tx(3)]);

  it('decodes header fields and all transactions', () => {
    const d = decodeBlock(b.raw);
    expect(d.hash).toBe(b.hash);
    expect(d.hash).toBe(blockHashOf(b.raw.subarray(0, 80)));
    expect(d.prevHash).toBe(prev);
    expect(d.time).toBe(1_700_000_123);
    expect(d.txs.map(txidHex)).toEqual([tx(1), tx(2), tx(3)].map(txidHex));
    expect(decodeHeader(b.raw.subarray(0, 80))).toEqual({
      hash: b.hash,
      prevHash: prev,
      time: 1_700_000_123,
    });
  });

  it('throws only DecodeError on truncations, trailing bytes and random input', () => {
    for (let n = 0; n < b.raw.length; n++) {
      expect(() => decodeBlock(b.raw.subarray(0, n))).toThrow(DecodeError);
    }
    expect(() => decodeBlock(Uint8Array.of(...b.raw, 0))).toThrow(DecodeError);
    expect(() => decodeHeader(new Uint8Array(79))).toThrow(DecodeError);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (bytes) => {
        try {
          decodeBlock(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
