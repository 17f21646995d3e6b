#!/usr/bin/env node
// `npm run bench [filter...]`: runs bench/run.ts under tsx (no build needed).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), ['bench/run.ts', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  // --expose-gc: memory benchmarks (bench/router.bench.ts) measure the heap after a full GC.
  env: { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, '--expose-gc'].filter(Boolean).join(' ') },
});
process.exit(r.status ?? 1);
