import { HistoryParseError } from '../errors.js';

/**
 * Just enough EDN for history lines: one flat map per line whose values are
 * strings, keywords, integers, nil, booleans or vectors of those. Anything
 * else is a parse error rather than a guess.
 */
export type EdnValue = string | number | boolean | null | Keyword | EdnValue[];

/** An EDN keyword such as `:invoke` (name without the colon). */
export class Keyword {
  constructor(readonly name: string) {}
  toString(): string {
    return `:${this.name}`;
  }
}

/** Parses `{:k v, ...}`; keys must be keywords. Throws HistoryParseError. */
export function parseEdnMap(text: string, line: number, file?: string): Map<string, EdnValue> {
  const r = new Reader(text, line, file);
  r.skipSpace();
  r.expect('{');
  const map = new Map<string, EdnValue>();
  for (;;) {
    r.skipSpace();
    if (r.peek() === '}') {
      r.pos++;
      break;
    }
    const key = r.value();
    if (!(key instanceof Keyword)) r.fail(`map keys must be keywords, got ${JSON.stringify(key)}`);
    r.skipSpace();
    if (r.peek() === '}' || r.peek() === undefined) r.fail(`key ${key} has no value`);
    map.set((key as Keyword).name, r.value());
  }
  r.skipSpace();
  if (r.pos < text.length) r.fail('unexpected text after the map');
  return map;
}

class Reader {
  pos = 0;
  constructor(
    private readonly s: string,
    private readonly line: number,
    private readonly file?: string,
  ) {}

  fail(reason: string): never {
    throw new HistoryParseError(`${reason} (column ${this.pos + 1})`, this.line, this.file);
  }

  peek(): string | undefined {
    return this.s[this.pos];
  }

  expect(c: string): void {
    if (this.s[this.pos] !== c) this.fail(`expected '${c}'`);
    this.pos++;
  }

  /** Whitespace, and commas, which EDN treats as whitespace. */
  skipSpace(): void {
    while (this.pos < this.s.length && /[\s,]/.test(this.s[this.pos])) this.pos++;
  }

  value(): EdnValue {
    const c = this.peek();
    if (c === undefined) this.fail('unexpected end of line');
    if (c === '"') return this.string();
    if (c === ':') {
      this.pos++;
      return new Keyword(this.symbol());
    }
    if (c === '[') {
      this.pos++;
      const items: EdnValue[] = [];
      for (;;) {
        this.skipSpace();
        if (this.peek() === ']') {
          this.pos++;
          return items;
        }
        items.push(this.value());
      }
    }
    const word = this.symbol();
    if (word === 'nil') return null;
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[+-]?\d+$/.test(word)) return Number(word);
    return this.fail(`unsupported value ${JSON.stringify(word)}`);
  }

  private symbol(): string {
    const start = this.pos;
    while (this.pos < this.s.length && !/[\s,{}[\]"]/.test(this.s[this.pos])) this.pos++;
    if (this.pos === start) this.fail('expected a value');
    return this.s.slice(start, this.pos);
  }

  private string(): string {
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      const c = this.s[this.pos++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.s[this.pos++];
      const escaped = ESCAPES[e as keyof typeof ESCAPES];
      if (escaped === undefined) this.fail(`unsupported escape \\${e ?? ''}`);
      out += escaped;
    }
  }
}

const ESCAPES = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' } as const;
