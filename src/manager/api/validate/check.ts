/**
 * Type checks for request bodies, each naming the field it rejects
 * ("Spec.TaskTemplate.Resources.Reservations.MemoryBytes: must be >= 0").
 * `null` counts as absent everywhere: Go clients send `"Labels": null` for
 * nil maps, and dockerd accepts it.
 */
import { badRequest } from '../errors.js';

export type Obj = Record<string, unknown>;

export function fail(field: string, message: string): never {
  throw badRequest(message, field);
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function absent(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

export function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) fail(field, `must be an object, not ${describe(v)}`);
  return v;
}

export function optObj(v: unknown, field: string): Obj | undefined {
  return absent(v) ? undefined : obj(v, field);
}

export function optString(v: unknown, field: string): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string') fail(field, `must be a string, not ${describe(v)}`);
  return v;
}

export function optBool(v: unknown, field: string): boolean | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'boolean') fail(field, `must be a boolean, not ${describe(v)}`);
  return v;
}

/** An integer in [min, max]; durations (ns) and counts are integers in Docker's API. */
export function optInt(v: unknown, field: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, `must be a number, not ${describe(v)}`);
  if (!Number.isInteger(v)) fail(field, `must be an integer, not ${v}`);
  if (v < min) fail(field, `must be >= ${min}`);
  if (v > max) fail(field, `must be <= ${max}`);
  return v;
}

export function optNumber(v: unknown, field: string, min: number, max: number): number | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, `must be a number, not ${describe(v)}`);
  if (v < min || v > max) fail(field, `must be between ${min} and ${max}`);
  return v;
}

export function optEnum<T extends string>(v: unknown, field: string, values: readonly T[]): T | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    fail(field, `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, not ${describe(v)}`);
  }
  return v as T;
}

export function optArray(v: unknown, field: string): unknown[] | undefined {
  if (absent(v)) return undefined;
  if (!Array.isArray(v)) fail(field, `must be a list, not ${describe(v)}`);
  return v;
}

export function optStrings(v: unknown, field: string): string[] | undefined {
  const a = optArray(v, field);
  a?.forEach((x, i) => {
    if (typeof x !== 'string') fail(`${field}[${i}]`, `must be a string, not ${describe(x)}`);
  });
  return a as string[] | undefined;
}

/** A string → string map (labels, options). */
export function optStringMap(v: unknown, field: string): Record<string, string> | undefined {
  const o = optObj(v, field);
  if (!o) return undefined;
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'string') fail(`${field}.${k}`, `must be a string, not ${describe(x)}`);
  }
  return o as Record<string, string>;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
