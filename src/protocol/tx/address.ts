/** Bitcoin addresses for output scripts: base58check P2PKH/P2SH and bech32/bech32m segwit. */
import { base58check, bech32, bech32m } from '@scure/base';
import { sha256 } from '../crypto/hash.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { p2pkhFromHash, p2shFromHash } from './script.js';

export type Network = 'mainnet' | 'testnet' | 'signet' | 'regtest';

export interface NetworkParams {
  bech32: string;
  p2pkh: number;
  p2sh: number;
}

export const NETWORKS: Record<Network, NetworkParams> = {
  mainnet: { bech32: 'bc', p2pkh: 0x00, p2sh: 0x05 },
  testnet: { bech32: 'tb', p2pkh: 0x6f, p2sh: 0xc4 },
  signet: { bech32: 'tb', p2pkh: 0x6f, p2sh: 0xc4 },
  regtest: { bech32: 'bcrt', p2pkh: 0x6f, p2sh: 0xc4 },
};

const b58 = base58check(sha256);

/** Address of a segwit program (version 0 → bech32, 1..16 → bech32m). */
export function segwitAddress(version: number, program: Uint8Array, network: Network): string {
  const words = [version, ...bech32.toWords(program)];
  return version === 0
    ? bech32.encode(NETWORKS[network].bech32, words)
    : bech32m.encode(NETWORKS[network].bech32, words);
}

/** Address of an output script, or undefined when the script has no address form. */
export function scriptToAddress(s: Uint8Array, network: Network): string | undefined {
  const p = NETWORKS[network];
  if (s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 20 && s[23] === 0x88 && s[24] === 0xac) {
    return b58.encode(Uint8Array.of(p.p2pkh, ...s.subarray(3, 23)));
  }
  if (s.length === 23 && s[0] === 0xa9 && s[1] === 20 && s[22] === 0x87) {
    return b58.encode(Uint8Array.of(p.p2sh, ...s.subarray(2, 22)));
  }
  const v = s[0];
  if (s.length >= 4 && s.length <= 42 && (v === 0 || (v! >= 0x51 && v! <= 0x60)) && s[1] === s.length - 2) {
    return segwitAddress(v === 0 ? 0 : v! - 0x50, s.subarray(2), network);
  }
  return undefined;
}

/** Output script of an address for `network`. Throws DecodeError `ADDRESS_INVALID`. */
export function addressToScript(addr: string, network: Network): Uint8Array {
  const p = NETWORKS[network];
  const lower = addr.toLowerCase();
  if (lower.startsWith(`${p.bech32}1`)) {
    let dec: { prefix: string; words: number[] };
    let m = false;
    try {
      dec = bech32.decode(addr as `${string}1${string}`);
    } catch {
      try {
        dec = bech32m.decode(addr as `${string}1${string}`);
        m = true;
      } catch (e) {
        throw new DecodeError('ADDRESS_INVALID', 'invalid bech32 address', { cause: e });
      }
    }
    const [version, ...rest] = dec.words;
    if (version === undefined || version > 16 || dec.prefix !== p.bech32)
      throw new DecodeError('ADDRESS_INVALID', 'bad witness version');
    if ((version === 0) === m)
      throw new DecodeError('ADDRESS_INVALID', 'wrong checksum variant for witness version');
    let program: Uint8Array;
    try {
      program = bech32.fromWords(rest);
    } catch (e) {
      throw new DecodeError('ADDRESS_INVALID', 'bad witness program padding', { cause: e });
    }
    if (
      program.length < 2 ||
      program.length > 40 ||
      (version === 0 && program.length !== 20 && program.length !== 32)
    ) {
      throw new DecodeError('ADDRESS_INVALID', 'bad witness program length');
    }
    return Uint8Array.of(version === 0 ? 0 : 0x50 + version, program.length, ...program);
  }
  let payload: Uint8Array;
  try {
    payload = b58.decode(addr);
  } catch (e) {
    throw new DecodeError('ADDRESS_INVALID', 'invalid address', { cause: e });
  }
  if (payload.length !== 21) throw new DecodeError('ADDRESS_INVALID', 'bad base58 address length');
  if (payload[0] === p.p2pkh) return p2pkhFromHash(payload.subarray(1));
  if (payload[0] === p.p2sh) return p2shFromHash(payload.subarray(1));
  throw new DecodeError('ADDRESS_INVALID', `address is not for ${network}`);
}

/** Validates that `network` is a known network name. */
export function parseNetwork(s: string): Network {
  if (s === 'mainnet' || s === 'bitcoin') return 'mainnet';
  if (s === 'testnet' || s === 'signet' || s === 'regtest') return s;
  throw new InvalidArgumentError(`unknown network '${s}'`);
}
