/**
 * Running the CLI in tests: in-process through main() (stdout and stderr
 * captured; only main() runs while they are, so tap's stream is untouched),
 * or as a real process from dist/ (`npm run build` first; npm test does).
 */
import { execFile } from 'node:child_process';
import { main } from '../../src/cli/program.js';
import { distFile } from '../helpers/dist.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function shoalInProcess(...args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

/** `node dist/bin/shoal.js ARGS` with SHOAL_HOST (when given) and cwd; never rejects. */
export function shoalProcess(args: string[], opts: { host?: string; cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  for (const k of ['SHOAL_HOST', 'SHOAL_CERT_PATH', 'DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) delete env[k];
  if (opts.host) env.SHOAL_HOST = opts.host;
  Object.assign(env, opts.env);
  return new Promise((resolve) => {
    execFile(process.execPath, [distFile('bin/shoal.js'), ...args], { env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000 }, (e, out, err) => {
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      resolve({ code, out: String(out), err: String(err) });
    });
  });
}

/** The docker-style failure contract: exit 1, nothing on stdout, exactly one `shoal: …` line on stderr. */
export function oneLineError(r: CliResult): string | null {
  const lines = r.err.split('\n').filter(Boolean);
  if (r.code !== 1) return `exit code ${r.code}, not 1 (stderr: ${r.err})`;
  if (lines.length !== 1) return `${lines.length} lines on stderr: ${JSON.stringify(r.err)}`;
  if (!lines[0]!.startsWith('shoal: ')) return `stderr does not start with "shoal: ": ${lines[0]}`;
  return null;
}
