/**
 * `farad demo`: the main job. Narrates, step by step, what Farad can do today with real bytes.
 * Each step is self-contained and uses only the public modules of the lower layers.
 */

import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { secp } from '../../protocol/crypto/secp256k1.js';
import { compare, toHex } from '../../protocol/encoding/bytes.js';
import { scriptToAddress } from '../../protocol/tx/address.js';
import { OP, p2wsh, script } from '../../protocol/tx/script.js';

type Say = (line: string) => void;

/** One narrated step of the demo. */
export interface DemoStep {
  title: string;
  run(say: Say): Promise<void> | void;
}

const steps: DemoStep[] = [
  {
    title: 'Two nodes derive keys and the 2-of-2 funding script a channel locks its coins in',
    run(say) {
      const a = randomBytes(32);
      const b = randomBytes(32);
      const [k1, k2] = [secp().publicKey(a), secp().publicKey(b)].sort(compare);
      const ws = script(OP.OP_2, k1!, k2!, OP.OP_2, OP.OP_CHECKMULTISIG);
      say(`funding witness script: ${toHex(ws)}`);
      say(`funding address (regtest P2WSH): ${scriptToAddress(p2wsh(ws), 'regtest')}`);
    },
  },
];

export async function runDemo(say: Say = (l) => console.log(l)): Promise<void> {
  say(`Farad demo (secp256k1 backend: ${secp().name})`);
  let n = 1;
  for (const step of steps) {
    say('');
    say(`Step ${n++}: ${step.title}`);
    await step.run((l) => say(`  ${l}`));
  }
  say('');
  say('Demo complete.');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the narrated end-to-end demo (the main job)')
    .action(async () => {
      await runDemo();
    });
}
