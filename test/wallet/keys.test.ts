import { describe, expect, it } from 'vitest';
import { Bip84Account, checkMnemonic, coinType, mnemonicFromEntropy } from '../../src/core/wallet/keys.js';
import { toHex } from '../../src/protocol/encoding/bytes.js';
import { addressToScript } from '../../src/protocol/tx/address.js';

// BIP84 "Test vectors" section (bitcoin/bips bip-0084.mediawiki).
const MNEMONIC =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

describe('BIP84 derivation', () => {
  const acct = Bip84Account.fromMnemonic(MNEMONIC, 'mainnet');

  it('derives the BIP84 first receiving key and address (m/84h/0h/0h/0/0)', () => {
    const k = acct.key(0, 0);
    expect(k.path).toBe("m/84'/0'/0'/0/0");
    expect(toHex(k.publicKey)).toBe('0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c');
    expect(k.address).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(k.script).toEqual(addressToScript(k.address, 'mainnet'));
  });

  it('derives the BIP84 second receiving address (m/84h/0h/0h/0/1)', () => {
    const k = acct.key(0, 1);
    expect(toHex(k.publicKey)).toBe('03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77');
    expect(k.address).toBe('bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g');
  });

  it('derives the BIP84 first change address (m/84h/0h/0h/1/0)', () => {
    const k = acct.key(1, 0);
    expect(k.path).toBe("m/84'/0'/0'/1/0");
    expect(toHex(k.publicKey)).toBe('03025324888e429ab8e3dbaf1f7802648b9cd01e9b418485c5fa4c1b9b5700e1a6');
    expect(k.address).toBe('bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el');
  });

  it('uses coin type 1 and the bcrt prefix on regtest', () => {
    const r = Bip84Account.fromMnemonic(MNEMONIC, 'regtest');
    expect(coinType('regtest')).toBe(1);
    expect(coinType('mainnet')).toBe(0);
    expect(r.path).toBe("m/84'/1'/0'");
    expect(r.key(0, 0).address.startsWith('bcrt1q')).toBe(true);
    // Different coin type => different key than mainnet.
    expect(toHex(r.key(0, 0).publicKey)).not.toBe(toHex(acct.key(0, 0).publicKey));
    expect(Bip84Account.fromMnemonic(MNEMONIC, 'testnet').key(0, 0).address.startsWith('tb1q')).toBe(true);
  });

  it('private keys match the public keys', async () => {
    const { secp } = await import('../../src/protocol/crypto/secp256k1.js');
    expect(toHex(secp().publicKey(acct.privateKey(0, 1)))).toBe(toHex(acct.key(0, 1).publicKey));
  });

  it('rejects invalid mnemonics with a typed error', () => {
    expect(() => checkMnemonic('abandon abandon abandon')).toThrow(/invalid BIP39 mnemonic/);
    expect(() => Bip84Account.fromMnemonic(MNEMONIC.replace('about', 'abandon'), 'mainnet')).toThrow(
      expect.objectContaining({ code: 'WALLET_INVALID_MNEMONIC' }),
    );
  });

  it('makes a mnemonic from caller-supplied entropy (all-zero 16 bytes is the BIP39 "abandon ... about")', () => {
    expect(mnemonicFromEntropy(new Uint8Array(16))).toBe(MNEMONIC);
    expect(() => mnemonicFromEntropy(new Uint8Array(15))).toThrow();
  });
});
