#!/usr/bin/env node
// The test command (`npm test`): typecheck, lint/format check, layer check, then the vitest
// suite. Ends with a plain "N passed, N failed" line counting every check and test.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const extra = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;

function step(label, cmd, args) {
  console.log(`\n== ${label}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status === 0) passed++;
  else {
    failed++;
    console.error(`== ${label} FAILED (exit ${r.status ?? r.signal})`);
  }
  return r.status === 0;
}

if (extra.length === 0) {
  step('build', bin('tsc'), ['-p', 'tsconfig.build.json']);
  step('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
  step('lint', bin('biome'), ['check', '.']);
  step('layers', process.execPath, ['scripts/check-layers.mjs']);
}

mkdirSync(join(root, '.tmp'), { recursive: true });
const out = join(root, '.tmp', 'vitest.json');
rmSync(out, { force: true });
console.log('\n== vitest');
const r = spawnSync(
  bin('vitest'),
  ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...extra],
  { cwd: root, stdio: 'inherit' },
);
try {
  const j = JSON.parse(readFileSync(out, 'utf8'));
  passed += j.numPassedTests;
  failed += j.numFailedTests;
  skipped += j.numPendingTests + (j.numTodoTests ?? 0);
  if (r.status !== 0 && j.numFailedTests === 0) failed++; // suite-level failure (e.g. a file that failed to load)
} catch {
  failed++;
  console.error('== vitest produced no report');
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
