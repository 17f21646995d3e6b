/**
 * The CLI's client of a running node's REST API (src/apps/daemon/api.ts). The API is found with
 * `--data-dir DIR` (reads `DIR/api.json` and `DIR/api.token`) or `--api URL --token T`
 * (`--api` with `--data-dir` takes the token from the data dir).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { dataDirPaths, readApiAccess } from '../daemon/datadir.js';
import { CliError, EXIT_USAGE, jsonUsageErrors } from './output.js';

/** Where the API is and how to authenticate. */
export interface ApiAccess {
  url: string;
  token: string;
}

/** The connection options every node command accepts. */
export interface AccessOptions {
  dataDir?: string;
  api?: string;
  token?: string;
}

/** Resolves the API URL and token from the options. */
export function resolveAccess(o: AccessOptions): ApiAccess {
  if (o.api) {
    try {
      const u = new URL(o.api);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new CliError('USAGE', `--api must be an http(s) URL: ${o.api}`, EXIT_USAGE);
    }
    let token = o.token;
    if (token === undefined && o.dataDir) {
      try {
        token = readFileSync(dataDirPaths(o.dataDir).token, 'utf8').trim();
      } catch {
        throw new CliError('DATADIR_NO_TOKEN', `no API token in ${o.dataDir}`);
      }
    }
    if (token === undefined) throw new CliError('USAGE', '--api needs --token (or --data-dir)', EXIT_USAGE);
    return { url: o.api.replace(/\/+$/, ''), token };
  }
  if (o.dataDir) {
    try {
      const a = readApiAccess(o.dataDir);
      return { url: a.url, token: o.token ?? a.token };
    } catch (e) {
      const fe = e as { code?: string; shortMessage?: string };
      throw new CliError(fe.code ?? 'DATADIR_NO_DAEMON', fe.shortMessage ?? String(e));
    }
  }
  throw new CliError('USAGE', 'give --data-dir DIR or --api URL --token T', EXIT_USAGE);
}

/** Calls `method path` with an optional JSON body; returns the parsed reply or throws {@link CliError}. */
export async function callApi(
  access: ApiAccess,
  method: 'GET' | 'POST',
  path: string,
  body?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`${access.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${access.token}`,
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'UND_ERR_HEADERS_TIMEOUT')
      throw new CliError(
        'API_TIMEOUT',
        `no reply from ${access.url} in time (the request may still complete)`,
      );
    throw new CliError(
      'API_UNREACHABLE',
      `cannot reach the node API at ${access.url} (${cause?.code ?? cause?.message ?? String(e)})`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError('API_BAD_RESPONSE', `HTTP ${res.status} with a non-JSON body from ${access.url}`);
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: unknown; message?: unknown } }).error;
    throw new CliError(
      typeof err?.code === 'string' ? err.code : `HTTP_${res.status}`,
      typeof err?.message === 'string' ? err.message : `HTTP ${res.status}`,
    );
  }
  return json as Record<string, unknown>;
}

/** Adds the API access options (`--data-dir`, or `--api` + `--token`) and JSON usage errors to `cmd`. */
export function withAccess(cmd: Command): Command {
  return jsonUsageErrors(
    cmd
      .option('--data-dir <dir>', 'data directory of the running node')
      .option('--api <url>', 'node API URL (instead of --data-dir)')
      .option('--token <token>', 'API token (with --api)'),
  );
}

/** A non-negative integer option value as a number when it is one, else the raw text (the API rejects it). */
export function intOrRaw(v: string): number | string {
  return /^\d{1,15}$/.test(v) ? Number(v) : v;
}
