/** Helpers for the devnet tests: keys, signed transactions, and a tiny JSON-RPC client. */
import { sha256 } from '../../src/protocol/crypto/hash.js';
import { secp } from '../../src/protocol/crypto/secp256k1.js';
import { fromHex, toHex, utf8 } from '../../src/protocol/encoding/bytes.js';
import { scriptToAddress } from '../../src/protocol/tx/address.js';
import { p2wpkh, p2wpkhScriptCode, p2wsh } from '../../src/protocol/tx/script.js';
import { derWithHashType } from '../../src/protocol/tx/signature.js';
import {
  encodeTx,
  SIGHASH_ALL,
  sighashSegwitV0,
  type Transaction,
  type TxOut,
} from '../../src/protocol/tx/transaction.js';

export interface Key {
  priv: Uint8Array;
  pub: Uint8Array;
  script: Uint8Array;
  address: string;
}

/** A deterministic test key with its P2WPKH script/address. */
export function key(label: string): Key {
  const priv = sha256(utf8(`devnet test key ${label}`));
  const pub = secp().publicKey(priv);
  const script = p2wpkh(pub);
  return { priv, pub, script, address: scriptToAddress(script, 'regtest')! };
}

/** P2WSH output script and address of a witness script. */
export function wsh(witnessScript: Uint8Array): { script: Uint8Array; address: string } {
  const script = p2wsh(witnessScript);
  return { script, address: scriptToAddress(script, 'regtest')! };
}

export interface Prevout {
  txid: string;
  vout: number;
  value: bigint;
}

/** An unsigned transaction spending `ins`. */
export function unsigned(
  ins: Prevout[],
  outputs: TxOut[],
  opts: { version?: number; locktime?: number; sequence?: number } = {},
): Transaction {
  return {
    version: opts.version ?? 2,
    inputs: ins.map((i) => ({
      txid: fromHex(i.txid),
      vout: i.vout,
      scriptSig: new Uint8Array(0),
      sequence: opts.sequence ?? 0xfffffffd,
      witness: [],
    })),
    outputs,
    locktime: opts.locktime ?? 0,
  };
}

/** ECDSA signature (DER + SIGHASH_ALL) for a segwit v0 input. */
export function sigFor(
  tx: Transaction,
  index: number,
  scriptCode: Uint8Array,
  value: bigint,
  priv: Uint8Array,
) {
  return derWithHashType(
    secp().sign(sighashSegwitV0(tx, index, scriptCode, value, SIGHASH_ALL), priv),
    SIGHASH_ALL,
  );
}

/** Signs every input as a P2WPKH spend by `k`. */
export function signP2wpkh(tx: Transaction, ins: Prevout[], k: Key): Transaction {
  ins.forEach((p, i) => {
    tx.inputs[i]!.witness = [sigFor(tx, i, p2wpkhScriptCode(k.pub), p.value, k.priv), k.pub];
  });
  return tx;
}

/** One-input P2WPKH spend of `prev` paying `outputs`. */
export function spendP2wpkh(
  prev: Prevout,
  k: Key,
  outputs: TxOut[],
  opts: { version?: number; locktime?: number; sequence?: number } = {},
): Transaction {
  return signP2wpkh(unsigned([prev], outputs, opts), [prev], k);
}

export const hex = (tx: Transaction) => toHex(encodeTx(tx));

export interface RpcErrorBody {
  code: number;
  message: string;
}

/** A JSON-RPC client for the devnet URL (credentials taken from the URL). */
export class RpcClient {
  readonly endpoint: string;
  readonly auth: string;
  constructor(url: string) {
    const u = new URL(url);
    this.auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    this.endpoint = `${u.protocol}//${u.host}/`;
  }

  async raw(body: unknown, auth = true): Promise<Response> {
    return fetch(this.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: this.auth } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  /** Calls and returns `{result, error}`. */
  async request(
    method: string,
    ...params: unknown[]
  ): Promise<{ result: unknown; error: RpcErrorBody | null }> {
    const res = await this.raw({ jsonrpc: '1.0', id: 1, method, params });
    return (await res.json()) as { result: unknown; error: RpcErrorBody | null };
  }

  /** Calls and returns the result; throws the error object on failure. */
  // biome-ignore lint/suspicious/noExplicitAny: JSON results in tests
  async call(method: string, ...params: unknown[]): Promise<any> {
    const r = await this.request(method, ...params);
    if (r.error) throw Object.assign(new Error(r.error.message), { rpc: r.error });
    return r.result;
  }

  /** Calls a method that must fail; returns the error object. */
  async error(method: string, ...params: unknown[]): Promise<RpcErrorBody> {
    const r = await this.request(method, ...params);
    if (!r.error) throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(r.result)}`);
    return r.error;
  }
}

/** Finds the output of `txid` paying `script` in the devnet mempool/chain via RPC. */
export async function findOutput(rpc: RpcClient, txid: string, script: Uint8Array): Promise<Prevout> {
  const tx = await rpc.call('getrawtransaction', txid, true);
  const want = toHex(script);
  // biome-ignore lint/suspicious/noExplicitAny: JSON
  const out = tx.vout.find((o: any) => o.scriptPubKey.hex === want);
  if (!out) throw new Error(`no output to ${want} in ${txid}`);
  return { txid, vout: out.n, value: BigInt(Math.round(out.value * 1e8)) };
}
