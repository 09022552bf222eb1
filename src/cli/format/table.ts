/**
 * Docker's list output: a table aligned as its tabwriter does (a column is
 * as wide as its widest cell plus 3 spaces, at least 10; the last column is
 * not padded), `--format json` as one JSON object per row, `-q` as IDs.
 */
import { CliError } from '../errors.js';
import { execTemplate, isTemplate, parseTemplate } from './go-template.js';

export type Row = Record<string, string | number | boolean>;
/** [header, key of the row or a cell computed from it (table-only decorations such as node ls's "ID *")]. */
export type Columns = readonly (readonly [string, string | ((r: Row) => string)])[];

const MIN_WIDTH = 10;
const PADDING = 3;

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(MIN_WIDTH, ...[h, ...rows.map((r) => r[i] ?? '')].map((c) => c.length + PADDING)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export type OutputFormat = 'table' | 'json' | 'template';

export function parseFormat(raw: string | undefined): OutputFormat {
  if (raw === undefined || raw === 'table') return 'table';
  if (raw === 'json') return 'json';
  if (isTemplate(raw)) return 'template';
  throw new CliError(`--format ${JSON.stringify(raw)} is not supported: use table, json, or a Go template such as '{{.Name}}' or 'table {{.ID}}\t{{.Name}}'`);
}

/** "DesiredState" → "DESIRED STATE": docker's header for a field it has no name for. */
function headerOf(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/**
 * A Go-template list, as docker renders one: each row through the template;
 * with a `table ` prefix, a header line first (the same template over the
 * columns' headers) and the tab-separated cells aligned as a table.
 */
function renderTemplateList(rows: readonly Row[], columns: Columns, format: string): string {
  const table = /^table\s/.test(format);
  const nodes = parseTemplate(table ? format.replace(/^table\s+/, '') : format);
  const lines = rows.map((r) => execTemplate(nodes, r));
  if (!table) return lines.map((l) => `${l}\n`).join('');
  const header: Record<string, string> = {};
  for (const k of Object.keys(rows[0] ?? {})) header[k] = headerOf(k);
  for (const [h, k] of columns) header[typeof k === 'string' ? k : h] = h;
  const head = execTemplate(nodes, header).split('\t');
  return renderTable(head, lines.map((l) => l.split('\t')));
}

export interface ListOptions {
  format?: string;
  quiet?: boolean;
}

/** Renders rows as the user asked: table (default), JSON lines, or just `idKey` with -q. */
export function renderList(rows: readonly Row[], columns: Columns, opts: ListOptions, idKey = 'ID'): string {
  const format = parseFormat(opts.format);
  if (opts.quiet) return rows.map((r) => `${String(r[idKey])}\n`).join('');
  if (format === 'json') return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
  if (format === 'template') return renderTemplateList(rows, columns, opts.format!);
  return renderTable(
    columns.map(([h]) => h),
    rows.map((r) => columns.map(([, k]) => (typeof k === 'function' ? k(r) : String(r[k] ?? '')))),
  );
}

/** `inspect`: docker's indented JSON array, one compact object per line with --format json, or a Go template per object. */
export function renderInspect(objects: readonly unknown[], format: string | undefined): string {
  const f = parseFormat(format);
  if (f === 'json') return objects.map((o) => `${JSON.stringify(o)}\n`).join('');
  if (f === 'template') {
    const nodes = parseTemplate(format!);
    return objects.map((o) => `${execTemplate(nodes, o)}\n`).join('');
  }
  return `${JSON.stringify(objects, null, 4)}\n`;
}

/** Docker's short IDs: the first 12 characters. */
export function shortId(id: string, noTrunc = false): string {
  return noTrunc ? id : id.slice(0, 12);
}

/** "ready" → "Ready", as docker capitalises states and availabilities. */
export function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}
