/**
 * `farad node start` option validation (ConfigError, one line, before anything starts) and the
 * CLI's API access resolution, without a running node.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveAccess } from '../../src/apps/cli/client.js';
import { CliError } from '../../src/apps/cli/output.js';
import {
  ConfigError,
  DEFAULT_HELPER_NICE,
  isLoopbackHost,
  parseHostPort,
  parseNodeConfig,
  type RawNodeOptions,
} from '../../src/apps/daemon/config.js';
import { stateName } from '../../src/apps/daemon/json.js';

const base: RawNodeOptions = { dataDir: '/tmp/x', bitcoind: 'http://u:p@127.0.0.1:18443' };

function configError(o: RawNodeOptions): ConfigError {
  try {
    parseNodeConfig(o);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('no ConfigError');
}

describe('node start configuration', () => {
  it('fills the defaults', () => {
    expect(parseNodeConfig(base)).toEqual({
      dataDir: '/tmp/x',
      network: 'regtest',
      listen: { host: '127.0.0.1', port: 9735 },
      api: { host: '127.0.0.1', port: 8080 },
      apiAllowRemote: false,
      chain: { kind: 'bitcoind', url: 'http://u:p@127.0.0.1:18443' },
      trustedPeers: [],
      pollMs: 1000,
      logLevel: 'info',
      helperNice: DEFAULT_HELPER_NICE,
    });
    const e = parseNodeConfig({
      dataDir: 'd',
      esplora: 'http://127.0.0.1:3002',
      api: '[::1]:1',
      listen: '0.0.0.0:0',
    });
    expect(e.chain).toEqual({ kind: 'esplora', url: 'http://127.0.0.1:3002' });
    expect(e.api).toEqual({ host: '::1', port: 1 });
    expect(e.listen).toEqual({ host: '0.0.0.0', port: 0 });
  });

  it('rejects bad options with a one-line CONFIG_INVALID error', () => {
    const cases: RawNodeOptions[] = [
      { ...base, dataDir: '' },
      { ...base, network: 'foonet' },
      { ...base, listen: 'nope' },
      { ...base, listen: '127.0.0.1:70000' },
      { ...base, api: '127.0.0.1' },
      { dataDir: 'd' },
      { ...base, esplora: 'http://127.0.0.1:3002' },
      { ...base, bitcoind: 'ftp://x' },
      { ...base, trustPeer: ['02abc'] },
      { ...base, pollMs: '10' },
      { ...base, logLevel: 'loud' },
      { ...base, api: '0.0.0.0:8080' },
      { ...base, api: '192.168.1.2:8080' },
      { ...base, gossipFlushMs: '50' },
      { ...base, feeBaseMsat: '-1' },
      { ...base, feePpm: '1.5' },
      { ...base, cltvDelta: '17' },
      { ...base, helperNice: '20' },
      { ...base, helperNice: '-1' },
    ];
    for (const c of cases) {
      const e = configError(c);
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.message).not.toContain('\n');
    }
  });

  it('takes the gossip period and the forwarding policy', () => {
    expect(
      parseNodeConfig({ ...base, gossipFlushMs: '200', feeBaseMsat: '0', feePpm: '250', cltvDelta: '40' }),
    ).toMatchObject({ gossipFlushMs: 200, feeBaseMsat: 0, feePpm: 250, cltvDelta: 40 });
    expect(parseNodeConfig({ ...base, helperNice: '0' }).helperNice).toBe(0);
  });

  it('binds the API off loopback only with --api-allow-remote', () => {
    expect(parseNodeConfig({ ...base, api: '0.0.0.0:8080', apiAllowRemote: true }).api.host).toBe('0.0.0.0');
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(h)).toBe(false);
    expect(() => parseHostPort('[::1]:9735', 'listen')).not.toThrow();
  });

  it('names channel states in upper snake case', () => {
    expect(stateName('Normal')).toBe('NORMAL');
    expect(stateName('WaitForFundingConfirmed')).toBe('WAIT_FOR_FUNDING_CONFIRMED');
  });
});

describe('CLI API access', () => {
  it('takes --api with --token, or api.json and the token file of --data-dir', () => {
    expect(resolveAccess({ api: 'http://127.0.0.1:1/', token: 't' })).toEqual({
      url: 'http://127.0.0.1:1',
      token: 't',
    });
    const dir = mkdtempSync(join(tmpdir(), 'farad-access-'));
    try {
      writeFileSync(join(dir, 'api.json'), JSON.stringify({ url: 'http://127.0.0.1:2' }));
      writeFileSync(join(dir, 'api.token'), 'abc\n');
      expect(resolveAccess({ dataDir: dir })).toEqual({ url: 'http://127.0.0.1:2', token: 'abc' });
      expect(resolveAccess({ dataDir: dir, api: 'http://127.0.0.1:3' })).toEqual({
        url: 'http://127.0.0.1:3',
        token: 'abc',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports missing access as typed CLI errors', () => {
    for (const [o, code, exit] of [
      [{}, 'USAGE', 2],
      [{ api: 'http://127.0.0.1:1' }, 'USAGE', 2],
      [{ api: 'nope', token: 't' }, 'USAGE', 2],
      [{ dataDir: join(tmpdir(), 'farad-no-such-dir') }, 'DATADIR_NO_DAEMON', 1],
    ] as const) {
      try {
        resolveAccess(o);
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(CliError);
        expect((e as CliError).code).toBe(code);
        expect((e as CliError).exitCode).toBe(exit);
      }
    }
  });
});
