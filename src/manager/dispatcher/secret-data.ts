/**
 * Which secret and config data a node must be sent, and the data itself,
 * opened on the leader from the store's sealed blobs. A node gets the data of
 * a secret only while it has an assigned, non-terminal task using it.
 */
import type { Task } from '../../model/index.js';
import type { SecretItem } from '../../protocol/dispatcher.js';
import { aadFor, type DataKey } from '../secrets/data-key.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../../util/log/interface.js';

/** Frames of secret data stay well under the wire's 16 MiB frame limit. */
export const MAX_SECRETS_FRAME_BYTES = 4 * 1024 * 1024;

/** `secret/<id>` and `config/<id>` keys a task uses. */
export function dataKeysOf(t: Task): string[] {
  const c = t.Spec.ContainerSpec;
  return [...(c?.Secrets ?? []).map((r) => `secret/${r.SecretID}`), ...(c?.Configs ?? []).map((r) => `config/${r.ConfigID}`)];
}

/**
 * Opens each keyed object's data. A missing object or a manager without the
 * data key yields no item: the agent then rejects the task, naming what it lacks.
 */
export function openItems(store: Store, key: DataKey | null, keys: Iterable<string>, log: Logger): SecretItem[] {
  const out: SecretItem[] = [];
  for (const k of keys) {
    const [kind, id] = k.split('/') as ['secret' | 'config', string];
    const o = store.get(kind, id);
    if (!o?.ShoalData) continue;
    if (!key) {
      log.warn(`cannot send ${kind} ${o.Spec.Name}: this leader holds no data key`);
      continue;
    }
    try {
      out.push({ kind, id, data: key.open(aadFor(kind, id), o.ShoalData) });
    } catch (err) {
      log.warn(`cannot send ${kind} ${o.Spec.Name}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Splits items into frames of at most MAX_SECRETS_FRAME_BYTES (one item is at most 512 KiB). */
export function chunkItems(items: SecretItem[]): SecretItem[][] {
  const frames: SecretItem[][] = [];
  let cur: SecretItem[] = [];
  let size = 0;
  for (const it of items) {
    if (cur.length > 0 && size + it.data.length > MAX_SECRETS_FRAME_BYTES) {
      frames.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(it);
    size += it.data.length;
  }
  if (cur.length > 0) frames.push(cur);
  return frames;
}
