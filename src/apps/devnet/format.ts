/**
 * JSON shapes of the devnet's two APIs: Bitcoin Core's RPC objects (TxToUniv, blockheader,
 * block) and Esplora's (Blockstream electrs) transaction/status objects, plus a JSON writer
 * that prints BTC amounts exactly as Core does (`50.00000000`, never a rounded double).
 */
import { toHex } from '../../protocol/encoding/bytes.js';
import { scriptToAddress } from '../../protocol/tx/address.js';
import { difficulty } from '../../protocol/tx/block.js';
import { OP, parseScript } from '../../protocol/tx/script.js';
import {
  encodeTx,
  txid as encodeTxid,
  wtxid as encodeWtxid,
  type Transaction,
  vsize,
  weight,
} from '../../protocol/tx/transaction.js';
import type { BlockEntry, Coin, DevnetChain } from './chain.js';
import { isCoinbase } from './chain.js';
import { btc8 } from './policy.js';

/** A JSON number written verbatim (amounts with 8 decimals). */
export class JsonNumber {
  constructor(readonly text: string) {}
}

/** A BTC amount as Core's RPC prints it. */
export function amount(sats: bigint): JsonNumber {
  return new JsonNumber(btc8(sats));
}

/** JSON.stringify that writes {@link JsonNumber} verbatim, bigint as integers and skips undefined. */
export function toJson(v: unknown): string {
  if (v instanceof JsonNumber) return v.text;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (typeof v === 'object') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return 'null';
}

const OP_NAMES: Record<number, string> = {
  76: 'OP_PUSHDATA1',
  77: 'OP_PUSHDATA2',
  78: 'OP_PUSHDATA4',
  80: 'OP_RESERVED',
  97: 'OP_NOP',
  98: 'OP_VER',
  99: 'OP_IF',
  100: 'OP_NOTIF',
  101: 'OP_VERIF',
  102: 'OP_VERNOTIF',
  103: 'OP_ELSE',
  104: 'OP_ENDIF',
  105: 'OP_VERIFY',
  106: 'OP_RETURN',
  107: 'OP_TOALTSTACK',
  108: 'OP_FROMALTSTACK',
  109: 'OP_2DROP',
  110: 'OP_2DUP',
  111: 'OP_3DUP',
  112: 'OP_2OVER',
  113: 'OP_2ROT',
  114: 'OP_2SWAP',
  115: 'OP_IFDUP',
  116: 'OP_DEPTH',
  117: 'OP_DROP',
  118: 'OP_DUP',
  119: 'OP_NIP',
  120: 'OP_OVER',
  121: 'OP_PICK',
  122: 'OP_ROLL',
  123: 'OP_ROT',
  124: 'OP_SWAP',
  125: 'OP_TUCK',
  126: 'OP_CAT',
  127: 'OP_SUBSTR',
  128: 'OP_LEFT',
  129: 'OP_RIGHT',
  130: 'OP_SIZE',
  131: 'OP_INVERT',
  132: 'OP_AND',
  133: 'OP_OR',
  134: 'OP_XOR',
  135: 'OP_EQUAL',
  136: 'OP_EQUALVERIFY',
  137: 'OP_RESERVED1',
  138: 'OP_RESERVED2',
  139: 'OP_1ADD',
  140: 'OP_1SUB',
  141: 'OP_2MUL',
  142: 'OP_2DIV',
  143: 'OP_NEGATE',
  144: 'OP_ABS',
  145: 'OP_NOT',
  146: 'OP_0NOTEQUAL',
  147: 'OP_ADD',
  148: 'OP_SUB',
  149: 'OP_MUL',
  150: 'OP_DIV',
  151: 'OP_MOD',
  152: 'OP_LSHIFT',
  153: 'OP_RSHIFT',
  154: 'OP_BOOLAND',
  155: 'OP_BOOLOR',
  156: 'OP_NUMEQUAL',
  157: 'OP_NUMEQUALVERIFY',
  158: 'OP_NUMNOTEQUAL',
  159: 'OP_LESSTHAN',
  160: 'OP_GREATERTHAN',
  161: 'OP_LESSTHANOREQUAL',
  162: 'OP_GREATERTHANOREQUAL',
  163: 'OP_MIN',
  164: 'OP_MAX',
  165: 'OP_WITHIN',
  166: 'OP_RIPEMD160',
  167: 'OP_SHA1',
  168: 'OP_SHA256',
  169: 'OP_HASH160',
  170: 'OP_HASH256',
  171: 'OP_CODESEPARATOR',
  172: 'OP_CHECKSIG',
  173: 'OP_CHECKSIGVERIFY',
  174: 'OP_CHECKMULTISIG',
  175: 'OP_CHECKMULTISIGVERIFY',
  176: 'OP_NOP1',
  177: 'OP_CHECKLOCKTIMEVERIFY',
  178: 'OP_CHECKSEQUENCEVERIFY',
  179: 'OP_NOP4',
  180: 'OP_NOP5',
  181: 'OP_NOP6',
  182: 'OP_NOP7',
  183: 'OP_NOP8',
  184: 'OP_NOP9',
  185: 'OP_NOP10',
  186: 'OP_CHECKSIGADD',
};

function scriptNumString(d: Uint8Array): string {
  if (d.length === 0) return '0';
  let v = 0n;
  for (let i = d.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(d[i]!);
  const top = d[d.length - 1]!;
  if (top & 0x80) return `-${v & ~(0x80n << BigInt(8 * (d.length - 1)))}`;
  return v.toString();
}

const HASHTYPES: Record<number, string> = {
  1: 'ALL',
  2: 'NONE',
  3: 'SINGLE',
  129: 'ALL|ANYONECANPAY',
  130: 'NONE|ANYONECANPAY',
  131: 'SINGLE|ANYONECANPAY',
};

function looksLikeDerSig(d: Uint8Array): boolean {
  return d.length >= 9 && d.length <= 73 && d[0] === 0x30 && d[1] === d.length - 3;
}

/** Core's ScriptToAsmStr (`sighashDecode` for scriptSigs: "<sig>[ALL]"). */
export function scriptAsm(s: Uint8Array, sighashDecode = false): string {
  let chunks: ReturnType<typeof parseScript>;
  try {
    chunks = parseScript(s);
  } catch {
    return '[error]';
  }
  return chunks
    .map((c) => {
      if (c.data !== undefined) {
        if (c.data.length <= 4) return scriptNumString(c.data);
        if (sighashDecode && looksLikeDerSig(c.data)) {
          const ht = HASHTYPES[c.data[c.data.length - 1]!];
          if (ht) return `${toHex(c.data.subarray(0, -1))}[${ht}]`;
        }
        return toHex(c.data);
      }
      if (c.op === OP.OP_0) return '0';
      if (c.op === OP.OP_1NEGATE) return '-1';
      if (c.op >= OP.OP_1 && c.op <= OP.OP_16) return String(c.op - OP.OP_1 + 1);
      return OP_NAMES[c.op] ?? 'OP_UNKNOWN';
    })
    .join(' ');
}

/** Esplora-style asm (rust-bitcoin notation: OP_PUSHBYTES_n, OP_PUSHNUM_n). */
export function esploraAsm(s: Uint8Array): string {
  let chunks: ReturnType<typeof parseScript>;
  try {
    chunks = parseScript(s);
  } catch {
    return '';
  }
  return chunks
    .map((c) => {
      if (c.data !== undefined) {
        if (c.op === OP.OP_0) return 'OP_0';
        const name = c.op < OP.OP_PUSHDATA1 ? `OP_PUSHBYTES_${c.op}` : OP_NAMES[c.op]!;
        return `${name} ${toHex(c.data)}`;
      }
      if (c.op === OP.OP_1NEGATE) return 'OP_PUSHNUM_NEG1';
      if (c.op >= OP.OP_1 && c.op <= OP.OP_16) return `OP_PUSHNUM_${c.op - OP.OP_1 + 1}`;
      if (c.op === 0xb1) return 'OP_CLTV';
      if (c.op === 0xb2) return 'OP_CSV';
      return OP_NAMES[c.op] ?? `OP_RETURN_${c.op}`;
    })
    .join(' ');
}

function isP2A(s: Uint8Array): boolean {
  return s.length === 4 && s[0] === 0x51 && s[1] === 0x02 && s[2] === 0x4e && s[3] === 0x73;
}

/** Core's scriptPubKey `type` names. */
export function coreScriptType(s: Uint8Array): string {
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 20 && s[23] === 0x88 && s[24] === 0xac)
    return 'pubkeyhash';
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 20 && s[22] === 0x87) return 'scripthash';
  if (s.length === 22 && s[0] === 0 && s[1] === 20) return 'witness_v0_keyhash';
  if (s.length === 34 && s[0] === 0 && s[1] === 32) return 'witness_v0_scripthash';
  if (s.length === 34 && s[0] === 0x51 && s[1] === 32) return 'witness_v1_taproot';
  if (isP2A(s)) return 'anchor';
  const v = s[0];
  if (s.length >= 4 && s.length <= 42 && (v === 0 || (v! >= 0x51 && v! <= 0x60)) && s[1] === s.length - 2)
    return 'witness_unknown';
  if (s.length > 0 && s[0] === OP.OP_RETURN) return 'nulldata';
  if (
    (s.length === 35 && s[0] === 33 && s[34] === 0xac) ||
    (s.length === 67 && s[0] === 65 && s[66] === 0xac)
  )
    return 'pubkey';
  if (s.length > 0 && s[s.length - 1] === OP.OP_CHECKMULTISIG) return 'multisig';
  return 'nonstandard';
}

/** Esplora's `scriptpubkey_type` names. */
export function esploraScriptType(s: Uint8Array): string {
  switch (coreScriptType(s)) {
    case 'pubkeyhash':
      return 'p2pkh';
    case 'scripthash':
      return 'p2sh';
    case 'witness_v0_keyhash':
      return 'v0_p2wpkh';
    case 'witness_v0_scripthash':
      return 'v0_p2wsh';
    case 'witness_v1_taproot':
      return 'v1_p2tr';
    case 'anchor':
      return 'anchor';
    case 'nulldata':
      return 'op_return';
    case 'pubkey':
      return 'p2pk';
    case 'multisig':
      return 'multisig';
    default:
      return s.length === 0 ? 'empty' : 'unknown';
  }
}

/** Core's scriptPubKey object. */
export function scriptPubKeyJson(s: Uint8Array): Record<string, unknown> {
  return {
    asm: scriptAsm(s),
    hex: toHex(s),
    address: scriptToAddress(s, 'regtest'),
    type: coreScriptType(s),
  };
}

/** Core's TxToUniv. `spent` (undo data) adds `fee`, and with `prevouts` each input's `prevout`. */
export function txToJson(
  tx: Transaction,
  opts: { spent?: Coin[] | undefined; prevouts?: boolean; hex?: boolean } = {},
): Record<string, unknown> {
  const raw = encodeTx(tx);
  const cb = isCoinbase(tx);
  const vin = tx.inputs.map((i, n) => {
    const witness = i.witness.length ? i.witness.map(toHex) : undefined;
    if (cb) return { coinbase: toHex(i.scriptSig), txinwitness: witness, sequence: i.sequence };
    const c = opts.spent?.[n];
    return {
      txid: toHex(i.txid),
      vout: i.vout,
      scriptSig: { asm: scriptAsm(i.scriptSig, true), hex: toHex(i.scriptSig) },
      txinwitness: witness,
      prevout:
        opts.prevouts && c
          ? {
              generated: c.coinbase,
              height: c.height,
              value: amount(c.value),
              scriptPubKey: scriptPubKeyJson(c.scriptPubKey),
            }
          : undefined,
      sequence: i.sequence,
    };
  });
  const fee =
    opts.spent && !cb
      ? amount(opts.spent.reduce((a, c) => a + c.value, 0n) - tx.outputs.reduce((a, o) => a + o.value, 0n))
      : undefined;
  return {
    txid: toHex(encodeTxid(tx)),
    hash: toHex(encodeWtxid(tx)),
    version: tx.version,
    size: raw.length,
    vsize: vsize(tx),
    weight: weight(tx),
    locktime: tx.locktime,
    vin,
    vout: tx.outputs.map((o, n) => ({
      value: amount(o.value),
      n,
      scriptPubKey: scriptPubKeyJson(o.scriptPubKey),
    })),
    fee,
    hex: opts.hex === false ? undefined : toHex(raw),
  };
}

/** Core's chainwork hex (64 digits). */
export function chainworkHex(w: bigint): string {
  return w.toString(16).padStart(64, '0');
}

/** Core's getblockheader (verbose) object. */
export function headerJson(chain: DevnetChain, e: BlockEntry): Record<string, unknown> {
  const active = chain.isActive(e);
  const next = active ? chain.blockAt(e.height + 1) : undefined;
  return {
    hash: e.hash,
    confirmations: active ? chain.height - e.height + 1 : -1,
    height: e.height,
    version: e.header.version,
    versionHex: (e.header.version >>> 0).toString(16).padStart(8, '0'),
    merkleroot: toHex(e.header.merkleRoot),
    time: e.header.time,
    mediantime: e.mtp,
    nonce: e.header.nonce,
    bits: e.header.bits.toString(16).padStart(8, '0'),
    difficulty: new JsonNumber(String(difficulty(e.header.bits))),
    chainwork: chainworkHex(e.chainwork),
    nTx: e.block.txs.length,
    previousblockhash: e.parent?.hash,
    nextblockhash: next?.hash,
  };
}

/** Core's getblock object for verbosity 1 (txids), 2 (decoded txs with fee) or 3 (with prevouts). */
export function blockJson(chain: DevnetChain, e: BlockEntry, verbosity: number): Record<string, unknown> {
  const h = headerJson(chain, e);
  const { nTx, previousblockhash, nextblockhash, ...rest } = h;
  const tx =
    verbosity >= 2
      ? e.block.txs.map((t, i) =>
          txToJson(t, { spent: i === 0 ? undefined : e.undo?.[i], prevouts: verbosity >= 3 }),
        )
      : e.txids;
  return {
    ...rest,
    nTx,
    previousblockhash,
    nextblockhash,
    strippedsize: e.strippedSize,
    size: e.size,
    weight: e.weight,
    tx,
  };
}

/** Esplora's tx status object. */
export function esploraStatus(_chain: DevnetChain, e: BlockEntry | undefined): Record<string, unknown> {
  if (!e) return { confirmed: false };
  return { confirmed: true, block_height: e.height, block_hash: e.hash, block_time: e.header.time };
}

function esploraOut(o: { value: bigint; scriptPubKey: Uint8Array }): Record<string, unknown> {
  return {
    scriptpubkey: toHex(o.scriptPubKey),
    scriptpubkey_asm: esploraAsm(o.scriptPubKey),
    scriptpubkey_type: esploraScriptType(o.scriptPubKey),
    scriptpubkey_address: scriptToAddress(o.scriptPubKey, 'regtest'),
    value: o.value,
  };
}

/** Esplora's transaction object (`GET /tx/:txid`). */
export function esploraTx(
  chain: DevnetChain,
  tx: Transaction,
  spent: Coin[] | undefined,
  block: BlockEntry | undefined,
): Record<string, unknown> {
  const cb = isCoinbase(tx);
  const raw = encodeTx(tx);
  const inSum = spent?.reduce((a, c) => a + c.value, 0n) ?? 0n;
  const outSum = tx.outputs.reduce((a, o) => a + o.value, 0n);
  return {
    txid: toHex(encodeTxid(tx)),
    version: tx.version,
    locktime: tx.locktime,
    vin: tx.inputs.map((i, n) => ({
      txid: toHex(i.txid),
      vout: i.vout,
      prevout: !cb && spent?.[n] ? esploraOut(spent[n]!) : null,
      scriptsig: toHex(i.scriptSig),
      scriptsig_asm: esploraAsm(i.scriptSig),
      witness: i.witness.length ? i.witness.map(toHex) : undefined,
      is_coinbase: cb,
      sequence: i.sequence,
    })),
    vout: tx.outputs.map(esploraOut),
    size: raw.length,
    weight: weight(tx),
    fee: cb ? 0n : inSum - outSum,
    status: esploraStatus(chain, block),
  };
}
