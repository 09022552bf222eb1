/**
 * Compose files read with the `yaml` package, into plain values plus where
 * each came from (file and line, by key path), with variables interpolated
 * (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`,
 * `${VAR?message}`, `$VAR`, `$$` for a `$`) from the environment and the
 * `.env` file beside the first compose file. Several files merge as
 * `docker stack deploy -c a.yml -c b.yml` does: maps key by key, the later
 * file's scalars and lists win.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';

export interface Where {
  file: string;
  line: number;
}

/** A compose error: one line naming the file, line, key and what is wrong. */
export class ComposeError extends Error {
  override readonly name = 'ComposeError';
  constructor(
    readonly where: Where | null,
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${where ? `${where.file}:${where.line}: ` : ''}${key ? `${key}: ` : ''}${problem}`);
  }
}

export interface ComposeSource {
  /** The merged document. */
  value: Record<string, unknown>;
  /** Key path (`services.web.deploy.replicas`) → where its value was written (the last file that wrote it). */
  where: Map<string, Where>;
  /** The directory relative paths (bind mounts, secret files) resolve from: the first file's. */
  dir: string;
}

/** KEY=VALUE lines; `#` comments; optional quotes; `export ` prefixes tolerated. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** Interpolates one string; a `${VAR:?msg}` that is unset or empty throws with its message. */
export function interpolate(s: string, env: Record<string, string | undefined>, fail: (problem: string) => never): string {
  return s.replace(/\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*)|(\{))/g, (_all, dollar: string | undefined, braced: string | undefined, bare: string | undefined, open: string | undefined) => {
    if (dollar) return '$';
    if (open) fail(`invalid interpolation format in ${JSON.stringify(s)}: a \${ without its }`);
    if (bare !== undefined) return env[bare] ?? '';
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])(.*))?$/s.exec(braced!);
    if (!m) fail(`invalid interpolation format "\${${braced}}": use \${VAR}, \${VAR:-default} or \${VAR:?message}`);
    const [, name, colon, op, arg] = m;
    const v = env[name!];
    const unset = colon ? v === undefined || v === '' : v === undefined;
    if (!op) return v ?? '';
    if (op === '-') return unset ? arg! : v!;
    if (unset) fail(`required variable ${name} is missing a value: ${arg || `set ${name}`}`);
    return v!;
  });
}

function toValue(node: YamlNode | null | undefined, key: string, file: string, lc: LineCounter, where: Map<string, Where>, env: Record<string, string | undefined>, text: string): unknown {
  if (!node) return null;
  const at: Where = { file, line: node.range ? lc.linePos(node.range[0]).line : 0 };
  if (key) where.set(key, at);
  const fail = (problem: string): never => {
    throw new ComposeError(at, key, problem);
  };
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : fail('map keys must be plain strings');
      const child = key ? `${key}.${k}` : k;
      if (Object.prototype.hasOwnProperty.call(out, k)) throw new ComposeError({ file, line: pair.key && (pair.key as YamlNode).range ? lc.linePos((pair.key as YamlNode).range![0]).line : at.line }, child, 'is given twice');
      out[k] = toValue(pair.value as YamlNode | null, child, file, lc, where, env, text);
      // A key's problems are reported at the key's own line (set after its value's, so it wins).
      if (pair.key && (pair.key as YamlNode).range) where.set(child, { file, line: lc.linePos((pair.key as YamlNode).range![0]).line });
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item, i) => toValue(item as YamlNode, `${key}[${i}]`, file, lc, where, env, text));
  if (isScalar(node)) {
    const v = node.value;
    // 0440 is octal in compose files (docker reads them as YAML 1.1 does), where YAML 1.2 says 440: file modes.
    if (typeof v === 'number' && node.range && /^0[0-7]+$/.test(text.slice(node.range[0], node.range[1]).trim())) return parseInt(text.slice(node.range[0], node.range[1]).trim(), 8);
    return typeof v === 'string' ? interpolate(v, env, fail) : v;
  }
  return fail('aliases and tags other than plain values are not supported');
}

function merge(into: Record<string, unknown>, from: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (cur && v && typeof cur === 'object' && typeof v === 'object' && !Array.isArray(cur) && !Array.isArray(v)) merge(cur as Record<string, unknown>, v as Record<string, unknown>);
    else into[k] = v;
  }
  return into;
}

/** Reads and merges the files; the first problem (syntax, interpolation, a duplicate key) throws a ComposeError. */
export function readCompose(files: string[], env: NodeJS.ProcessEnv = process.env): ComposeSource {
  if (files.length === 0) throw new ComposeError(null, '', 'no compose file given: use -c FILE');
  const dir = path.dirname(path.resolve(files[0]!));
  const dotEnv = path.join(dir, '.env');
  // The shell's variables win over the .env file's, as in docker compose.
  const vars: Record<string, string | undefined> = { ...(existsSync(dotEnv) ? parseDotEnv(readFileSync(dotEnv, 'utf8')) : {}), ...env };
  const where = new Map<string, Where>();
  let value: Record<string, unknown> = {};
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ComposeError(null, '', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
    const e = doc.errors[0];
    if (e) throw new ComposeError({ file, line: e.linePos?.[0]?.line ?? 0 }, '', `invalid YAML: ${e.message.split('\n')[0]}`);
    const v = toValue(doc.contents as YamlNode | null, '', file, lc, where, vars, text);
    if (v === null) throw new ComposeError({ file, line: 1 }, '', 'the file is empty');
    if (typeof v !== 'object' || Array.isArray(v)) throw new ComposeError({ file, line: 1 }, '', 'the top level must be a map (services:, networks:, …)');
    value = merge(value, v as Record<string, unknown>);
  }
  return { value, where, dir };
}
