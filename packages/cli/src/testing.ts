import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI (dist/main.js). */
export const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI as a child process with `env` over this process's environment, asynchronously
 * (the services a test starts answer from this process); killed after `timeoutMs`.
 */
export const runCli = (env: Record<string, string>, args: readonly string[], timeoutMs = 180_000): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
