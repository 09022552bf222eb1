/**
 * Resolving `{id}` path parameters as dockerd does: exact ID, then exact
 * name (hostname for nodes), then a unique ID prefix. An ambiguous prefix
 * is the client's mistake (400), not a 404.
 */
import type { Kind, ObjectOf } from '../store/commands.js';
import type { Store } from '../store/store.js';
import { badRequest, notFound } from './errors.js';

export function resolve<K extends Kind>(store: Store, kind: K, ref: string): ObjectOf[K] {
  const found = store.find(kind, ref);
  if (found) return found;
  if (ref !== '') {
    const n = store.list(kind).filter((o) => o.ID.startsWith(ref)).length;
    if (n > 1) throw badRequest(`${kind} ${ref} is ambiguous (${n} matches found)`);
  }
  throw notFound(`${kind} ${ref} not found`);
}
