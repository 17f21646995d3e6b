/** Loads a spec vector file from fixtures/vectors (copied unchanged from ../shared/vectors). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'vectors');

// biome-ignore lint/suspicious/noExplicitAny: vector files are untyped JSON; tests narrow them.
export function loadVector(relPath: string): any {
  return JSON.parse(readFileSync(join(FIXTURES, relPath), 'utf8'));
}

export { fromHex as hex, toHex } from '../../src/protocol/encoding/bytes.js';
