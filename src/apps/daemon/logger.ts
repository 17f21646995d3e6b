/**
 * The daemon's minimal logger: one JSON object per line on stderr
 * (`{"time","level","component","msg",...context}`), filtered by level. Implements the node
 * layer's {@link PeerLogger} so it can be handed to every runtime component.
 */
import type { PeerLogger } from '../../node/peer/types.js';
import { LOG_LEVELS, type LogLevel } from './config.js';

/** A {@link PeerLogger} with child loggers per component. */
export interface DaemonLogger extends PeerLogger {
  child(component: string): DaemonLogger;
}

function safe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v instanceof Error) return { name: v.name, message: v.message };
  return v;
}

/** A logger writing lines at `level` or above through `write` (default: stderr). */
export function createLogger(
  level: LogLevel,
  component = 'node',
  write: (line: string) => void = (l) => process.stderr.write(l),
): DaemonLogger {
  const min = LOG_LEVELS.indexOf(level);
  const log =
    (lvl: LogLevel) =>
    (msg: string, ctx?: Record<string, unknown>): void => {
      if (LOG_LEVELS.indexOf(lvl) < min) return;
      let line: string;
      try {
        line = JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg, ...ctx }, safe);
      } catch {
        line = JSON.stringify({ time: new Date().toISOString(), level: lvl, component, msg });
      }
      write(`${line}\n`);
    };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (c: string) => createLogger(level, c, write),
  };
}
