/**
 * BIP39 mnemonic -> seed -> BIP32 -> BIP84 (P2WPKH) key derivation.
 *
 * BIP84: `m / 84' / coin_type' / account' / change / address_index`, coin type 0 on mainnet and
 * 1 on testnet/signet/regtest (SLIP-44), change 0 = receive, 1 = change. The address of a key is
 * the P2WPKH address `0 <hash160(pubkey)>` (BIP141). Pure: no randomness here; pass entropy in.
 */
import { HDKey } from '@scure/bip32';
import { entropyToMnemonic, mnemonicToSeedSync, validateMnemonic } from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { toHex } from '../../protocol/encoding/bytes.js';
import { InvalidArgumentError } from '../../protocol/errors.js';
import { type Network, scriptToAddress } from '../../protocol/tx/address.js';
import { p2wpkh } from '../../protocol/tx/script.js';
import { WalletError } from './errors.js';

/** Keychain: 0 = external (receive), 1 = internal (change). */
export type Keychain = 0 | 1;

/** One derived wallet key. */
export interface DerivedKey {
  keychain: Keychain;
  index: number;
  /** Full derivation path, e.g. `m/84'/1'/0'/0/3`. */
  path: string;
  /** 33-byte compressed public key. */
  publicKey: Uint8Array;
  /** P2WPKH output script. */
  script: Uint8Array;
  /** Bech32 address for the account's network. */
  address: string;
}

/** Throws WalletError `WALLET_INVALID_MNEMONIC` unless `mnemonic` is a valid English BIP39 phrase. */
export function checkMnemonic(mnemonic: string): void {
  if (!validateMnemonic(normalizeMnemonic(mnemonic), english)) {
    throw new WalletError('WALLET_INVALID_MNEMONIC', 'invalid BIP39 mnemonic');
  }
}

function normalizeMnemonic(m: string): string {
  return m.normalize('NFKD').trim().split(/\s+/).join(' ');
}

/** BIP39 mnemonic of 16..32 bytes of caller-supplied entropy (12..24 words). */
export function mnemonicFromEntropy(entropy: Uint8Array): string {
  if (![16, 20, 24, 28, 32].includes(entropy.length)) {
    throw new InvalidArgumentError('entropy must be 16, 20, 24, 28 or 32 bytes');
  }
  return entropyToMnemonic(entropy, english);
}

/** BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds) of a validated mnemonic and optional passphrase. */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  checkMnemonic(mnemonic);
  return mnemonicToSeedSync(normalizeMnemonic(mnemonic), passphrase);
}

/** SLIP-44 coin type used by BIP84 for `network`. */
export function coinType(network: Network): number {
  return network === 'mainnet' ? 0 : 1;
}

/**
 * A BIP84 account (`m/84'/coin'/account'`). Holds the account's private extended key; derive
 * public data with {@link Bip84Account.key} and private keys only for signing.
 */
export class Bip84Account {
  readonly network: Network;
  readonly account: number;
  /** Account path, e.g. `m/84'/1'/0'`. */
  readonly path: string;
  readonly #node: HDKey;
  readonly #chains: [HDKey, HDKey];
  readonly #cache = new Map<string, DerivedKey>();

  constructor(seed: Uint8Array, network: Network, account = 0) {
    if (seed.length < 16 || seed.length > 64) throw new InvalidArgumentError('seed must be 16..64 bytes');
    if (!Number.isInteger(account) || account < 0 || account >= 0x80000000) {
      throw new InvalidArgumentError('bad account number');
    }
    this.network = network;
    this.account = account;
    this.path = `m/84'/${coinType(network)}'/${account}'`;
    this.#node = HDKey.fromMasterSeed(seed).derive(this.path);
    this.#chains = [this.#node.deriveChild(0), this.#node.deriveChild(1)];
  }

  /** Account from a BIP39 mnemonic (validated) and optional passphrase. */
  static fromMnemonic(mnemonic: string, network: Network, passphrase = '', account = 0): Bip84Account {
    return new Bip84Account(mnemonicToSeed(mnemonic, passphrase), network, account);
  }

  /** Public data of key `keychain/index` (cached). */
  key(keychain: Keychain, index: number): DerivedKey {
    checkIndex(index);
    const id = `${keychain}/${index}`;
    const hit = this.#cache.get(id);
    if (hit) return hit;
    const child = this.#chains[keychain].deriveChild(index);
    const publicKey = child.publicKey!;
    const script = p2wpkh(publicKey);
    const k: DerivedKey = {
      keychain,
      index,
      path: `${this.path}/${id}`,
      publicKey,
      script,
      address: scriptToAddress(script, this.network)!,
    };
    this.#cache.set(id, k);
    return k;
  }

  /** 32-byte private key of `keychain/index` (for signing only; do not keep it around). */
  privateKey(keychain: Keychain, index: number): Uint8Array {
    checkIndex(index);
    return this.#chains[keychain].deriveChild(index).privateKey!;
  }

  /** Master key fingerprint-independent id of the account: hex of the account public key. */
  get accountPublicKeyHex(): string {
    return toHex(this.#node.publicKey!);
  }
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= 0x80000000) {
    throw new InvalidArgumentError('bad address index');
  }
}
