/**
 * Minimal HTTP client for chain backends: global fetch with a per-request timeout
 * (AbortSignal.timeout) and transport failures mapped to {@link ChainSourceError}.
 */
import { ChainSourceError } from '../../node/ports/chain.js';
import { DecodeError } from '../../protocol/errors.js';

/** A finished HTTP exchange. */
export interface HttpResponse {
  status: number;
  body: Uint8Array;
  text(): string;
}

/** Splits `user:pass@` out of a URL; returns the clean URL and a Basic auth header value (if any). */
export function splitCredentials(url: string): { url: string; authorization: string | undefined } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new ChainSourceError('CHAIN_BAD_URL', 'invalid backend URL', { cause: e });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ChainSourceError('CHAIN_BAD_URL', 'backend URL must be http(s)');
  }
  let authorization: string | undefined;
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${pass}`)))}`;
    u.username = '';
    u.password = '';
  }
  return { url: u.toString().replace(/\/$/, ''), authorization };
}

/** Performs one HTTP request; throws ChainSourceError `CHAIN_TIMEOUT` / `CHAIN_UNREACHABLE`. */
export async function httpRequest(
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<HttpResponse> {
  let res: Response;
  let body: Uint8Array;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    body = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    const name = e instanceof Error ? e.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new ChainSourceError('CHAIN_TIMEOUT', `request timed out after ${timeoutMs} ms`, {
        details: redact(url),
        cause: e,
      });
    }
    throw new ChainSourceError('CHAIN_UNREACHABLE', 'chain backend unreachable', {
      details: redact(url),
      cause: e,
    });
  }
  return { status: res.status, body, text: () => new TextDecoder().decode(body) };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Runs a decoder on data from `source`; a DecodeError becomes ChainSourceError `CHAIN_BAD_RESPONSE`. */
export function parseFrom<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new ChainSourceError('CHAIN_BAD_RESPONSE', `undecodable data from ${source}`, { cause: e });
    }
    throw e;
  }
}
