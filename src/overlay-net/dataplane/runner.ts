/**
 * The one seam through which the data plane touches the kernel's tools.
 * execFile with an argument vector (never a shell); bulk work goes through
 * `ip -batch -`, `bridge -batch -` and `nft -f -` on stdin, so one apply is a
 * handful of process spawns however many objects it changes. Tests may pass
 * another runner (a recorder) to see what would run.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { DataPlaneError } from './errors.js';

export type Tool = 'ip' | 'bridge' | 'nft';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CommandRunner {
  /** Runs `tool args…` with `input` on stdin. Resolves also on a non-zero exit (the caller decides). */
  run(tool: Tool, args: string[], input?: string): Promise<RunResult>;
}

const PATHS: Record<Tool, string[]> = {
  ip: ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'],
  bridge: ['/usr/sbin/bridge', '/sbin/bridge', '/usr/bin/bridge', '/bin/bridge'],
  nft: ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'],
};

/** Where a tool is installed, or null. Fixed paths: a PATH lookup would let the environment choose the binary root runs. */
export async function findTool(tool: Tool): Promise<string | null> {
  for (const p of PATHS[tool]) {
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

export class ExecRunner implements CommandRunner {
  /** Process spawns so far (the figure an apply's cost is measured in). */
  spawns = 0;
  private readonly resolved = new Map<Tool, string>();

  constructor(
    private readonly opts: { timeoutMs?: number } = {},
  ) {}

  /** The absolute path of a tool (no PATH lookup at run time), or TOOL_MISSING. */
  async which(tool: Tool): Promise<string> {
    const known = this.resolved.get(tool) ?? (await findTool(tool));
    if (!known) throw new DataPlaneError('TOOL_MISSING', `${tool} not found in ${PATHS[tool].join(', ')}`);
    this.resolved.set(tool, known);
    return known;
  }

  async run(tool: Tool, args: string[], input?: string): Promise<RunResult> {
    const file = await this.which(tool);
    this.spawns++;
    return new Promise((resolve) => {
      const child = execFile(file, args, { timeout: this.opts.timeoutMs ?? 15_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ stdout: String(stdout), stderr: String(stderr) || (err && code !== 0 && !stderr ? err.message : ''), code });
      });
      child.stdin?.on('error', () => {
        // the tool exited before reading all of stdin: its exit status says why
      });
      child.stdin?.end(input ?? '');
    });
  }
}

/** Runs and throws COMMAND_FAILED on a non-zero exit, naming the tool and its stderr. */
export async function runOrThrow(runner: CommandRunner, tool: Tool, args: string[], input?: string): Promise<string> {
  const r = await runner.run(tool, args, input);
  if (r.code !== 0) throw new DataPlaneError('COMMAND_FAILED', `${tool} ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim().slice(0, 2000)}`);
  return r.stdout;
}
