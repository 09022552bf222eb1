/**
 * The subset of Go's text/template that docker users type in `--format`,
 * hand-written (no maintained JS library implements Go templates):
 *
 * - fields and chains: `{{.Name}}`, `{{.Spec.Mode.Replicated.Replicas}}`, `{{.}}`;
 * - docker's functions: `json`, `upper`, `lower`, `title`, `join`, `split`,
 *   `index`, `len`, `pad`, `truncate`, `println`, `print`; call style
 *   (`{{json .Spec}}`) and pipes (`{{.Spec | json}}`);
 * - `{{if X}}…{{else}}…{{end}}`, `{{range X}}…{{end}}`,
 *   `{{range $k, $v := X}}…{{end}}`, variables `$`, `$k`, `$v`;
 * - trim markers `{{-` and `-}}`.
 *
 * Values print as Go prints them: a missing field as `<no value>`, a map as
 * `map[k:v]` (keys sorted), a list as `[a b]`. Anything outside the subset
 * is an error naming what is not supported, never a silent wrong answer.
 */
import { CliError } from '../errors.js';

type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; pipe: Pipe }
  | { t: 'if'; cond: Pipe; then: Node[]; else: Node[] }
  | { t: 'range'; over: Pipe; vars: string[]; body: Node[]; else: Node[] };

/** Commands joined by `|`: each command's result is the last argument of the next. */
type Pipe = Cmd[];
type Cmd = Arg[];
type Arg = { t: 'field'; base: string | null; path: string[] } | { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'ident'; name: string };

function fail(msg: string): never {
  throw new CliError(`--format: ${msg}`);
}

// ---------------------------------------------------------------- parsing

function tokenizeAction(src: string): string[] {
  const toks: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c === '"' ? 2 : 1;
      if (j >= src.length) fail(`unterminated string in {{${src}}}`);
      toks.push(src.slice(i, j + 1));
      i = j + 1;
    } else if (c === '|' || c === ',') {
      toks.push(c);
      i++;
    } else if (src.startsWith(':=', i)) {
      toks.push(':=');
      i += 2;
    } else {
      let j = i;
      while (j < src.length && !/[\s|,"`]/.test(src[j]!) && !src.startsWith(':=', j)) j++;
      toks.push(src.slice(i, j));
      i = j;
    }
  }
  return toks;
}

function parseArg(tok: string): Arg {
  if (tok.startsWith('"')) return { t: 'str', v: JSON.parse(tok) as string };
  if (tok.startsWith('`')) return { t: 'str', v: tok.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(tok)) return { t: 'num', v: Number(tok) };
  if (tok === '.') return { t: 'field', base: null, path: [] };
  if (tok.startsWith('.')) return { t: 'field', base: null, path: tok.slice(1).split('.') };
  if (tok.startsWith('$')) {
    const [name, ...path] = tok.split('.');
    return { t: 'field', base: name!, path };
  }
  if (/^[A-Za-z_]\w*$/.test(tok)) return { t: 'ident', name: tok };
  return fail(`cannot read ${JSON.stringify(tok)} (the Go-template subset: fields, strings, numbers, functions)`);
}

function parsePipe(toks: string[]): Pipe {
  if (toks.length === 0) fail('an empty action {{}}');
  const pipe: Pipe = [];
  let cmd: Cmd = [];
  for (const tok of toks) {
    if (tok === '|') {
      if (cmd.length === 0) fail('a pipe with nothing before |');
      pipe.push(cmd);
      cmd = [];
    } else cmd.push(parseArg(tok));
  }
  if (cmd.length === 0) fail('a pipe that ends with |');
  pipe.push(cmd);
  return pipe;
}

export function parseTemplate(src: string): Node[] {
  // Split into text and actions, honouring {{- and -}}.
  const parts: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      parts.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.trimEnd();
      start++;
    }
    const close = src.indexOf('}}', start);
    if (close < 0) fail(`unclosed action in ${JSON.stringify(src)}`);
    let end = close;
    let trimNext = false;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      end = close - 1;
      trimNext = true;
    }
    if (text) parts.push({ text });
    parts.push({ action: src.slice(start, end).trim() });
    i = close + 2;
    if (trimNext) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  let pos = 0;
  const block = (until: string[]): { nodes: Node[]; ended: string } => {
    const nodes: Node[] = [];
    while (pos < parts.length) {
      const p = parts[pos++]!;
      if ('text' in p) {
        nodes.push({ t: 'text', s: p.text });
        continue;
      }
      const toks = tokenizeAction(p.action);
      const head = toks[0];
      if (head === 'end' || head === 'else') {
        if (!until.includes(head)) fail(`{{${head}}} without an open {{if}} or {{range}}`);
        return { nodes, ended: head };
      }
      if (head === 'if') {
        const cond = parsePipe(toks.slice(1));
        const a = block(['else', 'end']);
        const b = a.ended === 'else' ? block(['end']).nodes : [];
        nodes.push({ t: 'if', cond, then: a.nodes, else: b });
      } else if (head === 'range') {
        let rest = toks.slice(1);
        const vars: string[] = [];
        const assign = rest.indexOf(':=');
        if (assign >= 0) {
          for (const v of rest.slice(0, assign)) if (v !== ',') vars.push(v);
          if (vars.length === 0 || vars.length > 2 || !vars.every((v) => /^\$\w+$/.test(v))) fail(`{{range ${rest.join(' ')}}}: declare $v or $k, $v`);
          rest = rest.slice(assign + 1);
        }
        const over = parsePipe(rest);
        const a = block(['else', 'end']);
        const b = a.ended === 'else' ? block(['end']).nodes : [];
        nodes.push({ t: 'range', over, vars, body: a.nodes, else: b });
      } else if (head === 'with' || head === 'define' || head === 'template' || head === 'block' || (head?.startsWith('$') && toks[1] === ':=')) {
        fail(`{{${head}}} is not in the supported subset (fields, functions, pipes, if, range)`);
      } else if (head?.startsWith('/*')) {
        // a comment
      } else nodes.push({ t: 'out', pipe: parsePipe(toks) });
    }
    if (until.length > 0) fail(`missing {{end}} in ${JSON.stringify(src)}`);
    return { nodes, ended: '' };
  };
  return block([]).nodes;
}

// ---------------------------------------------------------------- evaluation

/** `<no value>`: what Go prints for a missing map key. */
const MISSING = Symbol('no value');

interface Scope {
  dot: unknown;
  vars: Map<string, unknown>;
}

function field(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (cur === MISSING || cur === null || cur === undefined) return MISSING;
    if (typeof cur !== 'object') fail(`can't evaluate field ${k} in a ${typeof cur}`);
    cur = Object.prototype.hasOwnProperty.call(cur, k) ? (cur as Record<string, unknown>)[k] : MISSING;
  }
  return cur;
}

/** Go's fmt %v of a value. */
export function goString(v: unknown): string {
  if (v === MISSING || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${goString(x)}`).join(' ')}]`;
  }
  return String(v);
}

/**
 * Go's truth. An object is true even when empty: the objects docker formats
 * are structs, and `{{if .Spec.Mode.Global}}` on `"Global": {}` (a set
 * pointer to an empty struct) is true in docker. (An empty Go *map* is false;
 * from JSON the two cannot be told apart, and Shoal omits empty label maps.)
 */
function truthy(v: unknown): boolean {
  if (v === MISSING || v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

const str = (v: unknown) => (v === MISSING ? '<no value>' : typeof v === 'string' ? v : goString(v));

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => (v === MISSING ? 'null' : JSON.stringify(v ?? null)),
  upper: (v) => str(v).toUpperCase(),
  lower: (v) => str(v).toLowerCase(),
  title: (v) => str(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (list, sep) => (Array.isArray(list) ? list.map(str).join(str(sep)) : fail('join needs a list')),
  split: (s, sep) => str(s).split(str(sep)),
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === MISSING || cur === null || cur === undefined) return MISSING;
      if (Array.isArray(cur)) {
        if (typeof k !== 'number' || k < 0 || k >= cur.length) fail(`index out of range: ${String(k)}`);
        cur = cur[k];
      } else if (typeof cur === 'object') cur = Object.prototype.hasOwnProperty.call(cur, str(k)) ? (cur as Record<string, unknown>)[str(k)] : MISSING;
      else fail(`can't index a ${typeof cur}`);
    }
    return cur;
  },
  len: (v) => (Array.isArray(v) ? v.length : typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : fail('len of a value with no length')),
  pad: (v, before, after) => `${' '.repeat(Number(before))}${str(v)}${' '.repeat(Number(after))}`,
  truncate: (v, n) => str(v).slice(0, Number(n)),
  println: (...a) => `${a.map(str).join(' ')}\n`,
  print: (...a) => a.map(str).join(''),
};

function evalArg(a: Arg, s: Scope): unknown {
  switch (a.t) {
    case 'str':
    case 'num':
      return a.v;
    case 'field': {
      if (a.base === null) return field(s.dot, a.path);
      if (!s.vars.has(a.base)) fail(`undefined variable ${a.base}`);
      return field(s.vars.get(a.base), a.path);
    }
    case 'ident':
      if (a.name === 'true' || a.name === 'false') return a.name === 'true';
      if (a.name === 'nil') return null;
      return fail(`function ${JSON.stringify(a.name)} is not defined (supported: ${Object.keys(FUNCS).join(', ')})`);
  }
}

function evalPipe(p: Pipe, s: Scope): unknown {
  let prev: unknown = undefined;
  let first = true;
  for (const cmd of p) {
    const head = cmd[0]!;
    if (head.t === 'ident' && FUNCS[head.name]) {
      const args = cmd.slice(1).map((a) => evalArg(a, s));
      if (!first) args.push(prev);
      prev = FUNCS[head.name]!(...args);
    } else {
      if (head.t === 'ident') evalArg(head, s); // an unknown function: says so, with the supported list
      if (cmd.length > 1) fail('only a function takes arguments');
      if (!first) fail(`cannot pipe into a value; pipe into a function (${Object.keys(FUNCS).join(', ')})`);
      prev = evalArg(head, s);
    }
    first = false;
  }
  return prev;
}

function run(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.s);
        break;
      case 'out':
        out.push(str(evalPipe(n.pipe, s)));
        break;
      case 'if':
        run(truthy(evalPipe(n.cond, s)) ? n.then : n.else, s, out);
        break;
      case 'range': {
        const v = evalPipe(n.over, s);
        const items: [unknown, unknown][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object'
            ? Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            : v === MISSING || v === null || v === undefined
              ? []
              : fail(`range over a ${typeof v}`);
        if (items.length === 0) run(n.else, s, out);
        for (const [k, x] of items) {
          const vars = new Map(s.vars);
          if (n.vars.length === 1) vars.set(n.vars[0]!, x);
          if (n.vars.length === 2) {
            vars.set(n.vars[0]!, k);
            vars.set(n.vars[1]!, x);
          }
          run(n.body, { dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

/** Renders a parsed template against one value (docker's `--format` per object or per row). */
export function execTemplate(nodes: Node[], dot: unknown): string {
  const out: string[] = [];
  run(nodes, { dot, vars: new Map([['$', dot]]) }, out);
  return out.join('');
}

/** Whether a --format value is a Go template rather than a named format. */
export function isTemplate(format: string | undefined): format is string {
  return format !== undefined && format.includes('{{');
}
