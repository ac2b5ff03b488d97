import type { Logger } from '../log.js';

/** A logger for tests that keeps the messages of its warnings and infos (errors are dropped); its children share them. */
export function capturingLogger(): Logger & { readonly warnings: string[]; readonly infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const log: Logger & { warnings: string[]; infos: string[] } = {
    warnings,
    infos,
    info: (m: string) => void infos.push(m),
    error() {},
    warn: (m: string) => void warnings.push(m),
    child: () => log,
  };
  return log;
}
