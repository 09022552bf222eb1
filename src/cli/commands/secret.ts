/** `shoal secret create|ls|inspect|rm` and `shoal config …` — docker's secret and config commands over the API. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { renderInspect, renderList, shortId, type Columns } from '../format/table.js';
import { clientFor } from '../host.js';
import { humanDuration } from '../units.js';
import { collect, enc, filterMap, out } from './common.js';
import { parseLabel } from './service-create-flags.js';

interface Listed {
  ID: string;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string>; Data?: string };
}

const COLUMNS: Columns = [
  ['ID', 'ID'],
  ['NAME', 'Name'],
  ['CREATED', 'CreatedAt'],
  ['UPDATED', 'UpdatedAt'],
];

/** The data: a file's bytes, or stdin's with `-` (docker's `secret create NAME -`). */
async function readData(file: string): Promise<Buffer> {
  try {
    if (file !== '-') return await readFile(file);
    const chunks: Buffer[] = [];
    for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  } catch (err) {
    throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function ago(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : `${humanDuration(Math.max(0, Date.now() - t))} ago`;
}

function register(program: Command, kind: 'secret' | 'config'): void {
  const group = program.command(kind).description(`manage ${kind}s (Docker-style: ${kind === 'secret' ? 'data sealed in the cluster, given only to the tasks that use it' : 'non-secret data for tasks'})`);
  const base = `/${kind}s`;

  group
    .command('create')
    .description(`create a ${kind} from a file or stdin (-)`)
    .argument('<name>', `${kind} name`)
    .argument('<file>', 'file to read the data from, or - for stdin')
    .option('-l, --label <key=value>', `${kind} label (repeatable)`, collect)
    .action(async (name: string, file: string, o: { label?: string[] }, cmd: Command) => {
      const data = await readData(file);
      const labels = Object.fromEntries((o.label ?? []).map((l) => parseLabel(l)));
      const res = await clientFor(cmd).post<{ ID: string }>(`${base}/create`, { Name: name, Labels: labels, Data: data.toString('base64') });
      out(`${res.ID}\n`);
    });

  group
    .command('ls')
    .alias('list')
    .description(`list ${kind}s`)
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter output (id, name, label)', collect)
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}", "table {{.ID}}\\t{{.Name}}")')
    .action(async (o: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const list = await clientFor(cmd).get<Listed[]>(base, { filters: encodeFilters(filterMap(o.filter)) });
      list.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
      const rows = list.map((s) => ({ ID: o.quiet ? s.ID : shortId(s.ID, true), Name: s.Spec.Name, CreatedAt: ago(s.CreatedAt), UpdatedAt: ago(s.UpdatedAt) }));
      out(renderList(rows, COLUMNS, o));
    });

  group
    .command('inspect')
    .description(`display detailed information on one or more ${kind}s${kind === 'secret' ? ' (never their data)' : ''}`)
    .argument(`<${kind}...>`, `${kind} name, ID or ID prefix`)
    .option('--format <format>', 'json (one object per line), or a Go template ("{{.Spec.Name}}", "{{json .Spec}}")')
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const objects = await Promise.all(refs.map((r) => client.get<Listed>(`${base}/${enc(r)}`)));
      out(renderInspect(objects, o.format));
    });

  group
    .command('rm')
    .alias('remove')
    .description(`remove one or more ${kind}s`)
    .argument(`<${kind}...>`, `${kind} name, ID or ID prefix`)
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const failed: string[] = [];
      // Like docker: remove what can be removed, then report what could not.
      for (const ref of refs) {
        try {
          await client.delete(`${base}/${enc(ref)}`);
          out(`${ref}\n`);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          failed.push(err.message);
        }
      }
      if (failed.length > 0) throw new CliError(failed.join('; '));
    });
}

export function registerSecret(program: Command): void {
  register(program, 'secret');
  register(program, 'config');
}
