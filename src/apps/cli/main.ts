/**
 * The `farad` command line. Each feature registers its subcommands here; every command prints
 * JSON on success, and on failure a one-line reason on stderr with a non-zero exit.
 */
import { Command } from 'commander';
import { registerDemo } from '../demo/main.js';
import { registerDevnet } from '../devnet/cli.js';
import { registerDecode } from './decode.js';

export function buildProgram(): Command {
  const program = new Command('farad')
    .description('Farad: Lightning node and LSP toolkit')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  // Subcommand registrations (one line per feature module):
  registerDemo(program);
  registerDecode(program);
  registerDevnet(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv, { from: 'user' });
}
