/**
 * Helpers of the daemon tests: build the CLI once, run `farad node start` as child processes
 * and drive them only through `node bin/farad.js <command> --data-dir ...` (asynchronously: the
 * devnet runs in this process and must keep answering the daemons).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI entry point the tests run: a snapshot of bin/ + dist/ (see {@link snapshotCli}). */
export let bin = join(root, 'bin', 'farad.js');

function newestMtime(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return t;
}

/** Builds dist/ (tsc -p tsconfig.build.json) unless it is newer than every source file. */
export function ensureBuilt(): void {
  const out = join(root, 'dist', 'apps', 'daemon', 'command.js');
  const srcTime = newestMtime(join(root, 'src'));
  if (existsSync(out) && statSync(out).mtimeMs >= srcTime) return;
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (e) {
    // tsc still emits when unrelated in-progress parts of the tree have type errors.
    if (!existsSync(out) || statSync(out).mtimeMs < srcTime) throw e;
  }
}

/**
 * Copies bin/ and dist/ to a private directory under .tmp/ (node_modules still resolves from
 * there) and runs the CLI from it: other test files in the same checkout may rebuild dist/ while
 * the daemons restart. Returns a cleanup function.
 */
export function snapshotCli(): () => void {
  mkdirSync(join(root, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(root, '.tmp', 'daemon-cli-'));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  bin = join(dir, 'bin', 'farad.js');
  return () => rmSync(dir, { recursive: true, force: true });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a !== null && typeof a === 'object' ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Untyped JSON printed by the CLI (the assertions check its shape). */
// biome-ignore lint/suspicious/noExplicitAny: CLI output is untyped JSON, checked by the assertions
export type Json = any;

/** The outcome of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (undefined if it is not JSON). */
  json: Json;
  /** The `{"error": {...}}` object of stderr's last line, if any. */
  error: { code: string; message: string } | undefined;
}

/** Runs `node bin/farad.js ...args` and collects its output (never throws on a non-zero exit). */
export function farad(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      let error: CliResult['error'];
      const last = stderr.trim().split('\n').pop() ?? '';
      try {
        error = (JSON.parse(last) as { error?: CliResult['error'] }).error;
      } catch {
        error = undefined;
      }
      resolve({ code, stdout, stderr, json, error });
    });
  });
}

/** Runs a CLI command that must succeed; returns its JSON. */
export async function ok(...args: string[]): Promise<Json> {
  const r = await farad(...args);
  if (r.code !== 0) throw new Error(`farad ${args.join(' ')} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r.json;
}

/** A `farad node start` child process. */
export interface DaemonProc {
  name: string;
  dataDir: string;
  args: string[];
  child: ChildProcess;
  nodeId: string;
  listen: string;
  api: string;
  /** Everything written on stderr so far (logs). */
  log: string[];
  exited: Promise<number | null>;
}

/** Starts `farad node start ...args` and waits for its ready line. */
export function startDaemon(
  name: string,
  dataDir: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<DaemonProc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'node', 'start', '--data-dir', dataDir, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    let out = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${log.join('')}`)), timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => log.push(s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const ready = JSON.parse(out.slice(0, nl)) as { node_id: string; listen: string; api: string };
        resolve({
          name,
          dataDir,
          args,
          child,
          nodeId: ready.node_id,
          listen: ready.listen,
          api: ready.api,
          log,
          exited,
        });
      } catch (e) {
        reject(e);
      }
    });
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${c}: ${log.join('')}`));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value (throws with `what` after `timeoutMs`). */
export async function until<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
