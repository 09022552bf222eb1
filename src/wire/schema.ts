/**
 * A small runtime-validation DSL for wire messages.
 *
 * Every message type on the wire is registered with a schema built from these
 * combinators. A schema both validates untrusted decoded values (returning the
 * path of the first bad field, never throwing) and gives TypeScript the static
 * type via `Infer<S>`. It is deliberately tiny and closure-compiled: validation
 * runs on every received frame, so it sits on the hot path of Raft and gossip.
 *
 * Why not a library (zod, typebox): we need only a dozen shapes, a
 * non-throwing check that names the bad field, and no per-call allocation on
 * success. That is ~150 lines here and avoids a dependency on the hot path.
 */

export interface Schema<T> {
  /** Returns null when `v` is a valid T, or a message naming the bad field. */
  readonly check: (v: unknown, path: string) => string | null;
  /** Human name of the shape, used in error messages and docs. */
  readonly kind: string;
  /** Phantom field carrying the static type; never set at run time. */
  readonly _type?: T;
  /**
   * Introspection for the codec's static record structures (see
   * src/wire/structures.ts): an object schema's required keys in declared
   * order, and the schemas nested inside a schema. optional() exposes
   * neither, so adding an optional field never changes a type's table.
   * Validation never reads these.
   */
  readonly requiredKeys?: readonly string[];
  readonly parts?: readonly Schema<unknown>[];
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const fail = (path: string, want: string, v: unknown): string =>
  `${path || 'body'}: expected ${want}, got ${describe(v)}`;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

function make<T>(kind: string, check: (v: unknown, path: string) => string | null, meta?: Pick<Schema<T>, 'requiredKeys' | 'parts'>): Schema<T> {
  return meta ? { kind, check, ...meta } : { kind, check };
}

export interface NumOpts {
  min?: number;
  max?: number;
}

/** A finite number (float allowed). */
export function num(opts: NumOpts = {}): Schema<number> {
  const { min = -Infinity, max = Infinity } = opts;
  return make('number', (v, p) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(p, 'number', v);
    if (v < min || v > max) return `${p || 'body'}: ${v} out of range [${min}, ${max}]`;
    return null;
  });
}

/** A safe integer. */
export function int(opts: NumOpts = {}): Schema<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = opts;
  return make('integer', (v, p) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return fail(p, 'integer', v);
    if (v < min || v > max) return `${p || 'body'}: ${v} out of range [${min}, ${max}]`;
    return null;
  });
}

/** A non-negative safe integer: terms, indexes, counters. */
export function uint(opts: NumOpts = {}): Schema<number> {
  return int({ min: 0, ...opts });
}

export interface LenOpts {
  /** Maximum length in characters / bytes / elements. */
  max?: number;
  min?: number;
}

export function str(opts: LenOpts = {}): Schema<string> {
  const { max = 1 << 20, min = 0 } = opts;
  return make('string', (v, p) => {
    if (typeof v !== 'string') return fail(p, 'string', v);
    if (v.length > max || v.length < min) return `${p || 'body'}: string length ${v.length} not in [${min}, ${max}]`;
    return null;
  });
}

export function bool(): Schema<boolean> {
  return make('boolean', (v, p) => (typeof v === 'boolean' ? null : fail(p, 'boolean', v)));
}

/** Binary data. msgpackr decodes bin to Buffer (a Uint8Array). */
export function bytes(opts: LenOpts = {}): Schema<Uint8Array> {
  const { max = Infinity, min = 0 } = opts;
  return make('bytes', (v, p) => {
    if (!(v instanceof Uint8Array)) return fail(p, 'bytes', v);
    if (v.byteLength > max || v.byteLength < min) return `${p || 'body'}: ${v.byteLength} bytes not in [${min}, ${max}]`;
    return null;
  });
}

export function literal<const L extends string | number | boolean>(value: L): Schema<L> {
  return make(`literal ${JSON.stringify(value)}`, (v, p) => (v === value ? null : fail(p, JSON.stringify(value), v)));
}

export function oneOf<const L extends readonly (string | number)[]>(values: L): Schema<L[number]> {
  const set = new Set<unknown>(values);
  return make(`one of ${values.join('|')}`, (v, p) =>
    set.has(v) ? null : `${p || 'body'}: expected one of ${values.join('|')}, got ${JSON.stringify(v)?.slice(0, 40)}`,
  );
}

export function array<T>(item: Schema<T>, opts: LenOpts = {}): Schema<T[]> {
  const { max = 1 << 20, min = 0 } = opts;
  return make(`array of ${item.kind}`, (v, p) => {
    if (!Array.isArray(v)) return fail(p, 'array', v);
    if (v.length > max || v.length < min) return `${p || 'body'}: array length ${v.length} not in [${min}, ${max}]`;
    for (let i = 0; i < v.length; i++) {
      const e = item.check(v[i], `${p}[${i}]`);
      if (e !== null) return e;
    }
    return null;
  }, { parts: [item as Schema<unknown>] });
}

/** A string-keyed map with uniformly typed values (labels, env). */
export function record<T>(value: Schema<T>, opts: LenOpts = {}): Schema<Record<string, T>> {
  const { max = 1 << 16 } = opts;
  return make(`map of ${value.kind}`, (v, p) => {
    if (!isPlainObject(v)) return fail(p, 'map', v);
    let n = 0;
    for (const k in v) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
      if (++n > max) return `${p || 'body'}: more than ${max} keys`;
      const e = value.check((v as Record<string, unknown>)[k], `${p}.${k}`);
      if (e !== null) return e;
    }
    return null;
  }, { parts: [value as Schema<unknown>] });
}

/** Marks an object field as optional (may be absent or undefined). */
export interface Optional<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function optional<T>(inner: Schema<T>): Optional<T> {
  return {
    kind: `optional ${inner.kind}`,
    optional: true,
    check: (v, p) => (v === undefined || v === null ? null : inner.check(v, p)),
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return make(`nullable ${inner.kind}`, (v, p) => (v === null ? null : inner.check(v, p)), { parts: [inner as Schema<unknown>] });
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined>;
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * An object with known fields. Unknown extra fields are tolerated (a newer
 * peer may add optional fields without a version bump) but never read.
 */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  const schemas = keys.map((k) => shape[k]!);
  return make(`object`, (v, p) => {
    if (!isPlainObject(v)) return fail(p, 'object', v);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const s = schemas[i]!;
      const fv = v[k];
      if (fv === undefined && !(s as Partial<Optional<unknown>>).optional) return `${p ? p + '.' : ''}${k}: required`;
      const e = s.check(fv, p ? `${p}.${k}` : k);
      if (e !== null) return e;
    }
    return null;
  }, { requiredKeys: keys.filter((k) => !(shape[k] as Partial<Optional<unknown>>).optional), parts: schemas });
}

/** A union discriminated by a string field, e.g. `{type: 'put', ...}`. */
export function tagged<const K extends string, const M extends Record<string, Schema<unknown>>>(
  tag: K,
  variants: M,
): Schema<{ [T in keyof M]: Infer<M[T]> }[keyof M]> {
  return make(`tagged by ${tag}`, (v, p) => {
    if (!isPlainObject(v)) return fail(p, 'object', v);
    const t = v[tag];
    if (typeof t !== 'string' || !Object.prototype.hasOwnProperty.call(variants, t)) {
      return `${p ? p + '.' : ''}${tag}: unknown variant ${JSON.stringify(t)?.slice(0, 40)}`;
    }
    return variants[t]!.check(v, p);
  }, { parts: Object.values(variants) });
}

/** Anything at all: only for opaque payloads validated at a higher layer. */
export function any(): Schema<unknown> {
  return make('any', () => null);
}

/** Runs `check` and throws nothing: returns the error string or null. */
export function validate<T>(schema: Schema<T>, v: unknown): string | null {
  try {
    return schema.check(v, '');
  } catch (err) {
    // A validator must never throw; a deep/cyclic value could still blow the stack.
    return `body: validation failed (${(err as Error).message})`;
  }
}
