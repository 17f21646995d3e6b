/**
 * The node's data directory: the BIP39 mnemonic (created on first start, mode 0600), the wallet
 * birthday (the chain height at creation), the API token (0600), the API address of the running
 * daemon (`api.json`, written once the API listens, removed on a clean shutdown), and the SQLite
 * database.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMnemonic, mnemonicFromEntropy, mnemonicToSeed } from '../../core/wallet/keys.js';
import { hmacSha256 } from '../../protocol/crypto/hash.js';
import { utf8 } from '../../protocol/encoding/bytes.js';
import { FaradError } from '../../protocol/errors.js';

/**
 * Data-dir failures: `DATADIR_UNUSABLE`, `DATADIR_BAD_MNEMONIC`, `DATADIR_BAD_FILE`,
 * `DATADIR_NO_DAEMON` (no api.json/token: the daemon is not running).
 */
export class DataDirError extends FaradError {
  override name = 'DataDirError';
}

/** The files of a data dir. */
export interface DataDirPaths {
  root: string;
  mnemonic: string;
  birthday: string;
  token: string;
  api: string;
  db: string;
}

/** The file names inside `root`. */
export function dataDirPaths(root: string): DataDirPaths {
  return {
    root,
    mnemonic: join(root, 'mnemonic.txt'),
    birthday: join(root, 'birthday.json'),
    token: join(root, 'api.token'),
    api: join(root, 'api.json'),
    db: join(root, 'farad.sqlite'),
  };
}

/** Writes `text` to `path` atomically (temp file + rename). */
function writeAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Creates the directory if needed; returns the mnemonic (generated on first use). */
export function openDataDir(root: string): { paths: DataDirPaths; mnemonic: string; created: boolean } {
  const paths = dataDirPaths(root);
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new DataDirError('DATADIR_UNUSABLE', `cannot create data dir ${root}`, { cause: e });
  }
  let created = false;
  if (!existsSync(paths.mnemonic)) {
    writeSecret(paths.mnemonic, `${mnemonicFromEntropy(new Uint8Array(randomBytes(16)))}\n`);
    created = true;
  }
  const mnemonic = readFileSync(paths.mnemonic, 'utf8').trim();
  try {
    checkMnemonic(mnemonic);
  } catch (e) {
    throw new DataDirError('DATADIR_BAD_MNEMONIC', `${paths.mnemonic} does not hold a valid BIP39 mnemonic`, {
      cause: e,
    });
  }
  return { paths, mnemonic, created };
}

/** The 32-byte Lightning node seed derived from the wallet mnemonic (domain-separated). */
export function nodeSeedFromMnemonic(mnemonic: string): Uint8Array {
  return hmacSha256(utf8('farad/node-seed/v1'), mnemonicToSeed(mnemonic));
}

/** Writes a fresh API token (hex, 0600) and returns it. */
export function writeToken(paths: DataDirPaths): string {
  const token = randomBytes(32).toString('hex');
  writeSecret(paths.token, `${token}\n`);
  return token;
}

/** The API token of the data dir, created on first use (kept across restarts). */
export function readOrCreateToken(paths: DataDirPaths): string {
  if (existsSync(paths.token)) {
    const t = readFileSync(paths.token, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
  }
  return writeToken(paths);
}

/**
 * The wallet birthday: the first block height to scan for the wallet's coins. Written on first
 * start (`height()` is the chain tip then) when the mnemonic was just created; a mnemonic that
 * existed without a birthday file scans from genesis (0).
 */
export async function readOrCreateBirthday(
  paths: DataDirPaths,
  mnemonicCreated: boolean,
  height: () => Promise<number>,
): Promise<number> {
  if (existsSync(paths.birthday)) {
    try {
      const b = JSON.parse(readFileSync(paths.birthday, 'utf8')) as { height?: unknown };
      if (typeof b.height === 'number' && Number.isSafeInteger(b.height) && b.height >= 0) return b.height;
    } catch {
      // fall through to the error below
    }
    throw new DataDirError('DATADIR_BAD_FILE', `${paths.birthday} is not a valid birthday file`);
  }
  const h = mnemonicCreated ? await height() : 0;
  writeAtomic(paths.birthday, `${JSON.stringify({ height: h })}\n`);
  return h;
}

/** Writes `api.json` (`{url}` and the daemon's pid) once the API listens. */
export function writeApiFile(paths: DataDirPaths, url: string): void {
  writeAtomic(paths.api, `${JSON.stringify({ url, pid: process.pid })}\n`);
}

/** Removes `api.json` (clean shutdown, or a stale one from a killed daemon). */
export function removeApiFile(paths: DataDirPaths): void {
  rmSync(paths.api, { force: true });
}

/** Reads the API URL and token a running daemon wrote into `root`. */
export function readApiAccess(root: string): { url: string; token: string } {
  const paths = dataDirPaths(root);
  try {
    const api = JSON.parse(readFileSync(paths.api, 'utf8')) as { url: string };
    return { url: api.url, token: readFileSync(paths.token, 'utf8').trim() };
  } catch (e) {
    throw new DataDirError(
      'DATADIR_NO_DAEMON',
      `no running daemon found in ${root} (start it with farad node start)`,
      {
        cause: e,
      },
    );
  }
}
