import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { checkLayers } from '../scripts/check-layers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'farad-layers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 't-'));
  for (const [p, src] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), src);
  }
  return dir;
}

describe('layer check', () => {
  it('passes on the project source tree', () => {
    expect(checkLayers(join(root, 'src'))).toEqual([]);
  });

  it('flags an upward import', () => {
    const dir = tree({
      'protocol/a.ts': "import { x } from '../node/b.js';\n",
      'node/b.ts': 'export const x = 1;\n',
    });
    const v: string[] = checkLayers(dir);
    expect(v).toHaveLength(1);
    expect(v[0]).toContain('protocol imports higher layer node');
  });

  it.each([
    ["import { readFileSync } from 'node:fs';", 'Node module'],
    ["import { createHash } from 'crypto';", 'Node module'],
    ['const b = Buffer.from([1]);', 'Buffer'],
    ['setTimeout(() => {}, 1);', 'timers'],
    ['const t = Date.now();', 'Date.now'],
    ['const r = Math.random();', 'Math.random'],
    ["await fetch('http://x');", 'fetch'],
  ])('flags %s in core', (src, what) => {
    const dir = tree({ 'core/a.ts': `${src}\n` });
    const v: string[] = checkLayers(dir);
    expect(v.some((l) => l.includes(what))).toBe(true);
  });

  it('allows Node modules and downward imports in node/adapters/apps, and ignores comments', () => {
    const dir = tree({
      'protocol/p.ts': '// Date.now is forbidden here, but this is a comment\nexport const p = 1;\n',
      'core/c.ts': "import { p } from '../protocol/p.js';\nexport const c = p;\n",
      'adapters/a.ts':
        "import { readFileSync } from 'node:fs';\nimport { c } from '../core/c.js';\nexport { readFileSync, c };\n",
    });
    expect(checkLayers(dir)).toEqual([]);
  });
});
