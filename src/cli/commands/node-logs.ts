/**
 * `shoal node logs NODE`: a node's own log (GET /shoal/nodes/{id}/logs),
 * read through the API from wherever the node runs. Records arrive as JSON
 * lines; they print as one readable line each, or as they are (`--raw`).
 */
import type { Command } from 'commander';
import { isLogLevel, LOG_LEVELS } from '../../util/log/interface.js';
import { parseRecord, prettyRecord } from '../../util/log/pretty.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { parseDuration } from '../units.js';

interface NodeLogFlags {
  follow?: boolean;
  tail: string;
  since?: string;
  level?: string;
  component?: string;
  raw?: boolean;
}

/** `--since`: an RFC 3339 time, a Unix timestamp, or a duration back from now (42m, 1h30m). */
function sinceValue(v: string): string {
  if (/^\d+(\.\d+)?$/.test(v) || Number.isFinite(Date.parse(v))) return v;
  try {
    return new Date(Date.now() - parseDuration(v) / 1e6).toISOString();
  } catch {
    throw new CliError(`invalid value for --since: ${JSON.stringify(v)} (a time such as 2026-12-05T10:00:00Z, a Unix timestamp, or a duration such as 42m)`);
  }
}

export function registerNodeLogs(node: Command): void {
  node
    .command('logs')
    .description("fetch a node's own log (its daemon's records, not its tasks' output)")
    .argument('<node>', 'node ID, ID prefix, hostname, or self')
    .option('-f, --follow', 'keep printing records as the node writes them')
    .option('-n, --tail <n>', 'number of records to show from the end ("all" for all)', 'all')
    .option('--since <time>', 'only records since a time (RFC 3339, Unix) or a duration ago (e.g. 42m)')
    .option('--level <level>', `only records at this level or worse: ${LOG_LEVELS.join(', ')}`)
    .option('--component <name>', 'only records of one component (raft, gossip, agent, dispatcher, …)')
    .option('--raw', 'print the JSON records as the node wrote them')
    .action(async (ref: string, f: NodeLogFlags, cmd: Command) => {
      if (f.tail !== 'all' && !/^\d+$/.test(f.tail)) throw new CliError(`invalid value for --tail: ${JSON.stringify(f.tail)} (a number of records or "all")`);
      if (f.level !== undefined && !isLogLevel(f.level)) throw new CliError(`invalid value for --level: ${JSON.stringify(f.level)} (one of ${LOG_LEVELS.join(', ')})`);
      const client = clientFor(cmd);
      const res = await client.stream(`/shoal/nodes/${encodeURIComponent(ref)}/logs`, {
        follow: f.follow ? true : undefined,
        tail: f.tail === 'all' ? undefined : f.tail,
        since: f.since !== undefined ? sinceValue(f.since) : undefined,
        level: f.level,
        component: f.component,
      });
      const colour = process.stdout.isTTY === true;
      let rest = '';
      const print = (line: string) => {
        if (!line) return;
        const r = f.raw ? null : parseRecord(line);
        process.stdout.write(`${r ? prettyRecord(r, { colour }) : line}\n`);
      };
      await new Promise<void>((resolve, reject) => {
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          const lines = (rest + c).split('\n');
          rest = lines.pop()!;
          for (const l of lines) print(l);
        });
        res.on('end', () => resolve());
        res.on('error', reject);
        // Ctrl-C while following: stop cleanly, with what was read printed.
        process.once('SIGINT', () => {
          res.destroy();
          resolve();
        });
      });
      print(rest);
    });
}
