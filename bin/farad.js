#!/usr/bin/env node
// The installed `farad` entry point: runs the compiled CLI (`npm run build` produces dist/).
import { main } from '../dist/apps/cli/main.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`${err?.shortMessage ?? err?.message ?? String(err)}\n`);
  process.exit(1);
});
