/**
 * The `farad` command line. Each feature registers its subcommands here; every command prints
 * JSON on success, and on failure a one-line reason on stderr with a non-zero exit.
 */
import { Command } from 'commander';
import { loadNativeSecp256k1 } from '../../adapters/crypto/native-secp256k1.js';
import { setSecp256k1Backend } from '../../protocol/crypto/secp256k1.js';
import { registerNode } from '../daemon/command.js';
import { registerDemo } from '../demo/main.js';
import { registerDevnet } from '../devnet/cli.js';
import { registerDecode } from './decode.js';
import { registerNetworkCommands } from './network-commands.js';
import { registerNodeCommands } from './node-commands.js';
import { registerOpsCommands } from './ops-commands.js';

export function buildProgram(): Command {
  const program = new Command('farad')
    .description('Farad: Lightning node and LSP toolkit')
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });
  // Subcommand registrations (one line per feature module):
  registerDemo(program);
  registerDecode(program);
  registerDevnet(program);
  registerNode(program);
  registerNodeCommands(program);
  registerOpsCommands(program);
  registerNetworkCommands(program);
  return program;
}

/**
 * Installs the native libsecp256k1 backend behind the crypto port when its addon loads (it ships
 * prebuilt for common platforms); otherwise the pure-JS noble backend stays. `FARAD_SECP=noble`
 * forces noble. Returns the backend name.
 */
export function installFastestSecp256k1(): string {
  if (process.env.FARAD_SECP !== 'noble') {
    try {
      return setSecp256k1Backend(loadNativeSecp256k1()) && 'native';
    } catch {
      // fall through: noble stays installed
    }
  }
  return 'noble';
}

export async function main(argv: string[]): Promise<void> {
  installFastestSecp256k1();
  await buildProgram().parseAsync(argv, { from: 'user' });
}
