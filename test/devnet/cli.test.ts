/**
 * The CLI contract against a real child process: `farad devnet chain start` (ports 0 here),
 * `farad devnet mine`, `farad devnet fund`, clean shutdown on SIGTERM, and --data-dir reuse.
 * Uses the compiled CLI (dist/); builds it first when it is missing or older than the sources.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'farad.js');

function newestMtime(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return t;
}

function ensureBuilt(): void {
  const out = join(root, 'dist', 'apps', 'devnet', 'cli.js');
  const main = join(root, 'dist', 'apps', 'cli', 'main.js');
  const srcTime = Math.max(
    newestMtime(join(root, 'src', 'apps', 'devnet')),
    statSync(join(root, 'src', 'apps', 'cli', 'main.ts')).mtimeMs,
  );
  if (
    existsSync(out) &&
    existsSync(main) &&
    statSync(out).mtimeMs >= srcTime &&
    statSync(main).mtimeMs >= srcTime
  )
    return;
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (e) {
    // tsc still emits when other (in-progress) parts of the tree have type errors; only a
    // missing or stale output is fatal here.
    if (!existsSync(out) || statSync(out).mtimeMs < srcTime) throw e;
  }
}

function farad(...args: string[]): string {
  return execFileSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Started {
  child: ChildProcessWithoutNullStreams;
  info: { rpc: string; esplora: string; height: number; tip: string; minerAddress: string };
  output: () => string;
}

function startChain(...extra: string[]): Promise<Started> {
  const child = spawn(
    process.execPath,
    [bin, 'devnet', 'chain', 'start', '--rpc', '127.0.0.1:0', '--esplora', '127.0.0.1:0', ...extra],
    { cwd: root },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve({ child, info: JSON.parse(line), output: () => out });
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`devnet exited early (${code}): ${out}`)));
  });
}

function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on('exit', (code) => resolve(code));
  });
}

describe('farad devnet CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'farad-devnet-cli-'));
  beforeAll(() => ensureBuilt());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts, mines, funds and shuts down cleanly on SIGTERM; keeps the tip with --data-dir', async () => {
    const s = await startChain('--data-dir', dir, '--rpc-user', 'u1', '--rpc-password', 'p1');
    try {
      expect(s.info.rpc).toMatch(/^http:\/\/u1:p1@127\.0\.0\.1:\d+$/);
      expect(s.info.esplora).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.info.height).toBe(0);
      const mined = JSON.parse(farad('devnet', 'mine', '3', '--rpc', s.info.rpc)) as string[];
      expect(mined).toHaveLength(3);
      const rpc = new RpcClient(s.info.rpc);
      expect(await rpc.call('getbestblockhash')).toBe(mined[2]);
      const to = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
      const funded = JSON.parse(farad('devnet', 'fund', to, '12345', '--rpc', s.info.rpc)) as {
        txid: string;
      };
      expect(funded.txid).toMatch(/^[0-9a-f]{64}$/);
      expect(await rpc.call('getrawmempool')).toEqual([funded.txid]);
      const toAddr = JSON.parse(farad('devnet', 'mine', '1', '--to', to, '--rpc', s.info.rpc)) as string[];
      const blk = await rpc.call('getblock', toAddr[0], 2);
      expect(blk.tx[0].vout[0].scriptPubKey.address).toBe(to);
      expect(blk.tx.map((t: { txid: string }) => t.txid)).toContain(funded.txid);
      // Wrong credentials: a one-line error and a non-zero exit.
      const bad = s.info.rpc.replace('p1@', 'nope@');
      expect(() => farad('devnet', 'mine', '1', '--rpc', bad)).toThrow();
      const tip = await rpc.call('getbestblockhash');
      s.child.kill('SIGTERM');
      expect(await exitCode(s.child)).toBe(0);
      expect(s.output()).toContain('"stopped":true');

      const s2 = await startChain('--data-dir', dir);
      try {
        expect(s2.info.tip).toBe(tip);
        expect(s2.info.rpc).toMatch(/^http:\/\/farad:farad@/);
      } finally {
        s2.child.kill('SIGINT');
        expect(await exitCode(s2.child)).toBe(0);
      }
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });
});
