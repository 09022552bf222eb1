/** Small helpers the API commands share: repeatable flags, --filter, docker's update-with-version step. */
import { retry } from '../../util/retry.js';
import type { Service } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { CliError } from '../errors.js';

export const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `-f key=value` flags → the API's filters map. */
export function filterMap(values: string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values ?? []) {
    const i = v.indexOf('=');
    if (i <= 0) throw new CliError(`bad filter ${JSON.stringify(v)}: use KEY=VALUE, e.g. --filter name=web`);
    (out[v.slice(0, i).trim()] ??= []).push(v.slice(i + 1).trim());
  }
  return out;
}

/** Writes to stdout (a function so tests can capture it in-process). */
export function out(s: string): void {
  process.stdout.write(s);
}

export function warn(s: string): void {
  process.stderr.write(s);
}

interface Versioned {
  ID: string;
  Version: { Index: number };
}

/**
 * Read-modify-write with `?version=N`, retried a few times when another
 * writer got in first ("update out of sequence"): the change is re-applied
 * to what is there now, so nothing anyone else wrote is lost.
 */
export async function updateWithVersion<T extends Versioned>(
  client: ApiClient,
  read: () => Promise<T>,
  write: (cur: T) => Promise<unknown>,
): Promise<T> {
  return retry(
    async () => {
      const cur = await read();
      await write(cur);
      return cur;
    },
    {
      what: 'a versioned update',
      attempts: 5,
      retryable: (err) => err instanceof CliError && err.apiCode === 'api.OUT_OF_SEQUENCE',
      backoff: { initialMs: 10, maxMs: 100 },
      exhausted: 'last',
    },
  );
}

export const enc = encodeURIComponent;

/** A service by name, ID or ID prefix (the API resolves it). */
export function getService(client: ApiClient, ref: string): Promise<Service> {
  return client.get<Service>(`/services/${enc(ref)}`);
}
