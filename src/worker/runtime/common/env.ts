import { RuntimeError } from '../interface.js';

/** "KEY=value" entries into a map; later entries win, as with docker run -e. */
export function envMap(entries: string[] | undefined, into: Record<string, string> = {}): Record<string, string> {
  for (const e of entries ?? []) {
    const i = e.indexOf('=');
    if (i <= 0) {
      // Docker passes a bare "KEY" through from its own environment; a node has no business leaking its own.
      throw new RuntimeError('INVALID_SPEC', `environment entry ${JSON.stringify(e)} is not KEY=value`);
    }
    into[e.slice(0, i)] = e.slice(i + 1);
  }
  return into;
}

export function envList(m: Record<string, string>): string[] {
  return Object.entries(m).map(([k, v]) => `${k}=${v}`);
}
