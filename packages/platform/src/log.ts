import { logIds } from './telemetry/trace.js';

/** A structured one-line JSON logger: what an SRE greps on call. No dependencies, no clock in domain. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const levels = { error: 0, warn: 1, info: 2 } as const;
type Level = keyof typeof levels;

export function createLogger(base: Record<string, unknown> = {}, level: Level = (process.env.LOG_LEVEL as Level) ?? 'info'): Logger {
  const max = levels[level] ?? 2;
  const write = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (levels[lvl] > max) return;
    const line = JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...logIds(), ...base, ...fields }, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    );
    (lvl === 'info' ? process.stdout : process.stderr).write(line + '\n');
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, level),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };
