/**
 * BOLT #11 § "Tagged Fields", `f` (9): on-chain fallback addresses, rendered as Bitcoin addresses.
 *
 * Version 17 = P2PKH (20-byte public-key hash), 18 = P2SH (20-byte script hash), 0..16 = segwit
 * witness version + program (BIP-141/BIP-350 lengths: v0 20 or 32 bytes, v1..16 2..40 bytes).
 * Rendering: base58check with the network's version byte, bech32 for witness v0, bech32m for v1+.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { bech32, bech32m, createBase58check } from '@scure/base';
import { InvalidArgumentError } from '../errors.js';
import type { Bolt11Network } from './hrp.js';

const base58check = createBase58check(sha256);

interface NetworkAddressParams {
  p2pkh: number;
  p2sh: number;
  segwitHrp: string;
}

const PARAMS: Record<Bolt11Network, NetworkAddressParams> = {
  bitcoin: { p2pkh: 0x00, p2sh: 0x05, segwitHrp: 'bc' },
  testnet: { p2pkh: 0x6f, p2sh: 0xc4, segwitHrp: 'tb' },
  signet: { p2pkh: 0x6f, p2sh: 0xc4, segwitHrp: 'tb' },
  regtest: { p2pkh: 0x6f, p2sh: 0xc4, segwitHrp: 'bcrt' },
};

/** Fallback address kinds. `witness` is any segwit version/program that is not one of the named templates. */
export type FallbackType = 'p2pkh' | 'p2sh' | 'p2wpkh' | 'p2wsh' | 'p2tr' | 'witness';

/** A decoded `f` field. */
export interface FallbackAddress {
  /** 17 (P2PKH), 18 (P2SH) or a witness version 0..16. */
  version: number;
  type: FallbackType;
  /** The 20-byte hash (P2PKH/P2SH) or the witness program. */
  program: Uint8Array;
  /** The address string for the invoice's network. */
  address: string;
}

/** True if `(version, program)` is a fallback BOLT 11 defines (17/18 with 20 bytes, or a valid witness program). */
export function isValidFallback(version: number, program: Uint8Array): boolean {
  if (version === 17 || version === 18) return program.length === 20;
  if (version === 0) return program.length === 20 || program.length === 32;
  if (version >= 1 && version <= 16) return program.length >= 2 && program.length <= 40;
  return false;
}

/** Classifies a valid fallback. */
export function fallbackType(version: number, program: Uint8Array): FallbackType {
  if (version === 17) return 'p2pkh';
  if (version === 18) return 'p2sh';
  if (version === 0) return program.length === 20 ? 'p2wpkh' : 'p2wsh';
  if (version === 1 && program.length === 32) return 'p2tr';
  return 'witness';
}

/**
 * Renders a fallback as an address for `network`. Throws InvalidArgumentError if
 * {@link isValidFallback} is false.
 */
export function fallbackAddress(
  network: Bolt11Network,
  version: number,
  program: Uint8Array,
): FallbackAddress {
  if (!isValidFallback(version, program))
    throw new InvalidArgumentError(`invalid fallback: version ${version}, ${program.length} bytes`);
  const p = PARAMS[network];
  let address: string;
  if (version === 17 || version === 18) {
    const payload = new Uint8Array(21);
    payload[0] = version === 17 ? p.p2pkh : p.p2sh;
    payload.set(program, 1);
    address = base58check.encode(payload);
  } else {
    const words = [version, ...bech32.toWords(program)];
    // BIP-350: witness v0 uses bech32, v1+ bech32m.
    address =
      version === 0 ? bech32.encode(p.segwitHrp, words, false) : bech32m.encode(p.segwitHrp, words, false);
  }
  return { version, type: fallbackType(version, program), program: program.slice(), address };
}
