/**
 * Block codec: header/block serialization, block hash, merkle root and branch, BIP141
 * witness commitment, compact targets. Expected values are Bitcoin Core's chainparams
 * (mainnet and regtest genesis blocks).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256d } from '../../src/protocol/crypto/hash.js';
import { concat, fromHex, toHex } from '../../src/protocol/encoding/bytes.js';
import { DecodeError } from '../../src/protocol/errors.js';
import {
  type Block,
  bitsToTarget,
  blockHash,
  blockMerkleRoot,
  blockWeight,
  blockWork,
  decodeBlock,
  decodeHeader,
  difficulty,
  encodeBlock,
  encodeHeader,
  findWitnessCommitment,
  hashMeetsTarget,
  merkleBranch,
  merkleRoot,
  merkleRootWithMutation,
  witnessCommitmentHash,
  witnessCommitmentScript,
  witnessMerkleRoot,
} from '../../src/protocol/tx/block.js';
import { reverse, type Transaction, txid, wtxid } from '../../src/protocol/tx/transaction.js';

// Bitcoin Core chainparams.cpp CreateGenesisBlock: the coinbase shared by mainnet and regtest.
const GENESIS_SCRIPTSIG =
  '04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73';
const GENESIS_PUBKEY_SCRIPT =
  '4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac';
const genesisCoinbase: Transaction = {
  version: 1,
  inputs: [
    {
      txid: new Uint8Array(32),
      vout: 0xffffffff,
      scriptSig: fromHex(GENESIS_SCRIPTSIG),
      sequence: 0xffffffff,
      witness: [],
    },
  ],
  outputs: [{ value: 5_000_000_000n, scriptPubKey: fromHex(GENESIS_PUBKEY_SCRIPT) }],
  locktime: 0,
};
function genesis(time: number, nonce: number, bits: number): Block {
  return {
    header: {
      version: 1,
      prevBlock: new Uint8Array(32),
      merkleRoot: blockMerkleRoot([genesisCoinbase]),
      time,
      bits,
      nonce,
    },
    txs: [genesisCoinbase],
  };
}

describe('block header and hash', () => {
  it('reproduces the mainnet and regtest genesis block hashes and merkle root', () => {
    const main = genesis(1231006505, 2083236893, 0x1d00ffff);
    expect(toHex(main.header.merkleRoot)).toBe(
      '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
    );
    expect(toHex(blockHash(main.header))).toBe(
      '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    );
    const reg = genesis(1296688602, 2, 0x207fffff);
    expect(toHex(blockHash(reg.header))).toBe(
      '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    );
    expect(hashMeetsTarget(blockHash(main.header), 0x1d00ffff)).toBe(true);
    expect(hashMeetsTarget(blockHash(reg.header), 0x207fffff)).toBe(true);
  });

  it('round-trips headers and blocks, including the 285-byte genesis block', () => {
    const main = genesis(1231006505, 2083236893, 0x1d00ffff);
    const raw = encodeBlock(main);
    expect(raw.length).toBe(285);
    expect(encodeHeader(main.header).length).toBe(80);
    const back = decodeBlock(raw);
    expect(toHex(encodeBlock(back))).toBe(toHex(raw));
    expect(toHex(blockHash(decodeHeader(raw.subarray(0, 80))))).toBe(toHex(blockHash(main.header)));
    expect(blockWeight(main)).toBe(285 * 4);
  });

  it('expands compact targets and computes work/difficulty like Core', () => {
    expect(bitsToTarget(0x1d00ffff)).toBe(0xffffn << 208n);
    expect(difficulty(0x1d00ffff)).toBe(1);
    // Regtest: every block adds 2 to chainwork (Core reports genesis chainwork ...02).
    expect(blockWork(0x207fffff)).toBe(2n);
    expect(bitsToTarget(0x04923456 | 0x00800000)).toBe(0n); // negative target
  });
});

describe('merkle tree', () => {
  it('hashes pairs and duplicates an odd last leaf', () => {
    const leaves = [1, 2, 3].map((i) => sha256d(Uint8Array.of(i)));
    const int = leaves.map(reverse);
    const l1a = sha256d(concat(int[0]!, int[1]!));
    const l1b = sha256d(concat(int[2]!, int[2]!));
    expect(toHex(merkleRoot(leaves))).toBe(toHex(reverse(sha256d(concat(l1a, l1b)))));
    expect(toHex(merkleRoot([leaves[0]!]))).toBe(toHex(leaves[0]!));
    expect(merkleRootWithMutation([leaves[0]!, leaves[0]!]).mutated).toBe(true);
    expect(merkleRootWithMutation(leaves).mutated).toBe(false);
  });

  it('produces branches that fold back to the root (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (n, k) => {
        const leaves = Array.from({ length: n }, (_, i) => sha256d(Uint8Array.of(i, n)));
        const pos = k % n;
        let node = reverse(leaves[pos]!);
        let p = pos;
        for (const sib of merkleBranch(leaves, pos)) {
          node = p & 1 ? sha256d(concat(reverse(sib), node)) : sha256d(concat(node, reverse(sib)));
          p >>= 1;
        }
        return toHex(reverse(node)) === toHex(merkleRoot(leaves));
      }),
    );
  });
});

describe('BIP141 witness commitment', () => {
  it('builds the commitment output and finds the last one in a coinbase', () => {
    const spend: Transaction = {
      version: 2,
      inputs: [
        {
          txid: new Uint8Array(32).fill(7),
          vout: 1,
          scriptSig: new Uint8Array(0),
          sequence: 0,
          witness: [Uint8Array.of(1, 2)],
        },
      ],
      outputs: [{ value: 1000n, scriptPubKey: Uint8Array.of(0x51) }],
      locktime: 0,
    };
    const cb = structuredClone(genesisCoinbase);
    cb.inputs[0]!.witness = [new Uint8Array(32)];
    const root = witnessMerkleRoot([cb, spend]);
    // Coinbase wtxid counts as zero.
    expect(toHex(root)).toBe(toHex(merkleRoot([new Uint8Array(32), wtxid(spend)])));
    const commitment = witnessCommitmentHash(root, new Uint8Array(32));
    expect(toHex(commitment)).toBe(toHex(sha256d(concat(reverse(root), new Uint8Array(32)))));
    const s = witnessCommitmentScript(commitment);
    expect(toHex(s.subarray(0, 6))).toBe('6a24aa21a9ed');
    cb.outputs.push({ value: 0n, scriptPubKey: s }, { value: 0n, scriptPubKey: s });
    expect(findWitnessCommitment(cb)).toBe(2);
    expect(findWitnessCommitment(genesisCoinbase)).toBe(-1);
    const block: Block = {
      header: { ...genesis(1, 0, 0x207fffff).header, merkleRoot: blockMerkleRoot([cb, spend]) },
      txs: [cb, spend],
    };
    const back = decodeBlock(encodeBlock(block));
    expect(back.txs.map((t) => toHex(txid(t)))).toEqual([cb, spend].map((t) => toHex(txid(t))));
    expect(toHex(back.txs[1]!.inputs[0]!.witness[0]!)).toBe('0102');
  });
});

describe('block decoding robustness', () => {
  const valid = encodeBlock(genesis(1231006505, 2083236893, 0x1d00ffff));
  it('throws only DecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          decodeBlock(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
        try {
          decodeHeader(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
    );
  });
  it('throws DecodeError on every truncation and on trailing bytes', () => {
    for (let n = 0; n < valid.length; n++) {
      expect(() => decodeBlock(valid.subarray(0, n))).toThrow(DecodeError);
    }
    expect(() => decodeBlock(concat(valid, Uint8Array.of(0)))).toThrow(DecodeError);
  });
});
