import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadVector } from './helpers/vectors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const valid = loadVector('bolt11/valid-invoices.json');
const invalid = loadVector('bolt11/invalid-invoices.json');
const blip39 = loadVector('blips/blip-0039-bolt11-blinded-path-invoice.json');

function farad(...args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin', 'farad.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
  });
}

const byName = (name: string) => valid.cases.find((c: { name: string }) => c.name === name);

describe('farad decode (CLI)', () => {
  beforeAll(() => {
    // The CLI runs from dist/: compile the current sources first.
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root });
  });

  it('prints one JSON object for a spec invoice with route hints and a fallback', () => {
    const c = byName('fallback_p2pkh_with_route_hints');
    const r = farad('decode', c.invoice);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(j.network).toBe('bitcoin');
    expect(j.amount_msat).toBe(c.amount_msat);
    expect(j.payment_hash).toBe(c.decoded.payment_hash);
    expect(j.payment_secret).toBe(c.decoded.payment_secret);
    expect(j.payee).toBe(c.payee_pubkey);
    expect(j.description_hash).toBe(c.decoded.description_hash);
    expect(j.description).toBeUndefined();
    expect(j.timestamp).toBe(c.timestamp);
    expect(j.expiry).toBe(3600);
    expect(j.min_final_cltv_expiry_delta).toBe(18);
    expect(j.route_hints).toEqual(c.decoded.route_hints);
    expect(j.features.map((f: { bit: number }) => f.bit)).toEqual(c.decoded.features.bits);
    expect(j.features.map((f: { name: string }) => f.name)).toEqual(['var_onion_optin', 'payment_secret']);
    expect(j.fallbacks).toEqual(
      c.decoded.fallbacks.map((f: { version: number; type: string; address: string }) => ({
        version: f.version,
        type: f.type,
        address: f.address,
      })),
    );
    expect(j.metadata).toBeUndefined();
    expect(j.blinded_paths).toBeUndefined();
  });

  it('shows amount null, description, expiry, cltv and metadata when present', () => {
    const pico = byName('pico_btc_amount_expiry_min_final_cltv_route_hint');
    const j = JSON.parse(farad('decode', `lightning:${pico.invoice}`).stdout);
    expect(j.amount_msat).toBe(pico.amount_msat);
    expect(j.description).toBe(pico.decoded.description);
    expect(j.expiry).toBe(pico.decoded.expiry_seconds);
    expect(j.min_final_cltv_expiry_delta).toBe(pico.decoded.min_final_cltv_expiry_delta);

    const donation = byName('no_amount_donation');
    expect(JSON.parse(farad('decode', donation.invoice).stdout).amount_msat).toBeNull();

    const meta = byName('payment_metadata');
    expect(JSON.parse(farad('decode', meta.invoice).stdout).metadata).toBe(meta.decoded.metadata);
  });

  it('shows bLIP-39 blinded paths', () => {
    const r = farad('decode', blip39.invoice);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.payment_secret).toBeNull();
    expect(j.blinded_paths.length).toBe(blip39.blinded_paths.length);
    expect(j.blinded_paths[0].first_ephemeral_blinding_point).toBe(
      blip39.blinded_paths[0].first_ephemeral_blinding_point,
    );
    expect(j.blinded_paths[0].hops.map((h: { blinded_node_id: string }) => h.blinded_node_id)).toEqual(
      blip39.blinded_paths[0].blinded_hops.map((h: { blinded_node_pubkey: string }) => h.blinded_node_pubkey),
    );
  });

  it('rejects an invalid invoice: non-zero exit, one line on stderr, nothing on stdout', () => {
    for (const name of ['bad_checksum', 'missing_payment_secret']) {
      const c = invalid.cases.find((x: { name: string }) => x.name === name);
      const r = farad('decode', c.invoice);
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n').length).toBe(1);
      expect(r.stderr).toContain(`BOLT11_${c.reason.toUpperCase()}`);
    }
  });
});
