#!/usr/bin/env node
// Layer check (DEVELOPERS.md "Architecture"): imports point only downward
// protocol < core < node < adapters < apps, and protocol/core stay pure (no Node builtins,
// Buffer, timers, clock, randomness or network). Exit 1 and one line per violation on failure.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAYERS = ['protocol', 'core', 'node', 'adapters', 'apps'];
const PURE = new Set(['protocol', 'core']);
const BUILTINS = new Set(builtinModules);

/** Forbidden runtime identifiers in pure layers, matched on code with comments removed. */
const FORBIDDEN = [
  [/\bBuffer\b/, 'Buffer'],
  [
    /\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|queueMicrotask)\b/,
    'timers',
  ],
  [/\bDate\s*\.\s*now\b/, 'Date.now'],
  [/\bnew\s+Date\s*\(\s*\)/, 'new Date() (the clock)'],
  [/\bperformance\s*\.\s*now\b/, 'performance.now'],
  [/\bMath\s*\.\s*random\b/, 'Math.random'],
  [/(^|[^.\w])fetch\s*\(/, 'fetch'],
  [/\bprocess\s*\./, 'process'],
  [/\bcrypto\s*\.\s*getRandomValues\b/, 'crypto.getRandomValues'],
  [/\brequire\s*\(/, 'require'],
];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function stripComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const IMPORT_RE =
  /(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

/**
 * Checks the tree under `srcDir` (which holds one folder per layer).
 * @returns a list of human-readable violations (empty when clean).
 */
export function checkLayers(srcDir) {
  const violations = [];
  const root = resolve(srcDir);
  for (const layer of LAYERS) {
    let files;
    try {
      files = walk(join(root, layer));
    } catch {
      continue;
    }
    const rank = LAYERS.indexOf(layer);
    for (const file of files) {
      const rel = relative(root, file);
      const code = stripComments(readFileSync(file, 'utf8'));
      for (const m of code.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2] ?? m[3];
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(dirname(file), spec));
          const targetLayer = target.split(sep)[0];
          const targetRank = LAYERS.indexOf(targetLayer);
          if (targetRank < 0) violations.push(`${rel}: imports '${spec}' outside the layer folders`);
          else if (targetRank > rank)
            violations.push(`${rel}: ${layer} imports higher layer ${targetLayer} ('${spec}')`);
        } else if (PURE.has(layer)) {
          const bare = spec.replace(/^node:/, '').split('/')[0];
          if (spec.startsWith('node:') || BUILTINS.has(bare)) {
            violations.push(`${rel}: ${layer} imports Node module '${spec}'`);
          }
        }
      }
      if (PURE.has(layer)) {
        const lines = code.split('\n');
        lines.forEach((line, i) => {
          for (const [re, what] of FORBIDDEN) {
            if (re.test(line)) violations.push(`${rel}:${i + 1}: ${layer} uses ${what}`);
          }
        });
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const v = checkLayers(src);
  if (v.length) {
    for (const line of v) console.error(`layer violation: ${line}`);
    process.exit(1);
  }
  console.log(`layers ok (${LAYERS.join(' < ')})`);
}
