/**
 * Output conventions of the `farad` node commands: results are JSON on stdout (2-space
 * indented); failures are ONE line `{"error":{"code","message"}}` on stderr with a non-zero exit
 * status (1: the request failed; 2: bad usage or configuration).
 */
import type { Command } from 'commander';
import { FaradError } from '../../protocol/errors.js';

/** Exit status of a failed request. */
export const EXIT_FAILURE = 1;
/** Exit status of bad usage / bad configuration. */
export const EXIT_USAGE = 2;

/** A failure reported by a CLI command (code and message go to stderr as JSON). */
export class CliError extends FaradError {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode = EXIT_FAILURE) {
    super(code, message);
    this.exitCode = exitCode;
  }
}

/** Prints a result on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `{"error":{"code","message"}}` on one stderr line. */
export function printError(code: string, message: string): void {
  process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

/** Prints `e` as a JSON error and returns the exit status to use. */
export function reportError(e: unknown): number {
  if (e instanceof CliError) {
    printError(e.code, e.shortMessage);
    return e.exitCode;
  }
  if (e instanceof FaradError) {
    printError(e.code, e.message);
    return EXIT_FAILURE;
  }
  printError('INTERNAL', e instanceof Error ? e.message : String(e));
  return EXIT_FAILURE;
}

/**
 * Makes `cmd` report commander's own errors (unknown option, missing argument...) as a JSON
 * error with exit status 2; help still prints normally.
 */
export function jsonUsageErrors(cmd: Command): Command {
  return cmd
    .showHelpAfterError(false)
    .configureOutput({ outputError: () => {} })
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      printError('USAGE', err.message.replace(/^error: /, ''));
      process.exit(EXIT_USAGE);
    });
}

/** Wraps an async action: errors become JSON on stderr and the exit status. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}
