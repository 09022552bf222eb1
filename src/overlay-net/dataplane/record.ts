/**
 * The small record of what this data plane owns that its name does not
 * reveal: task namespaces (their names come from the plan, not from us).
 * Links are recognised by name (names.ts) and the nft table is ours by name,
 * so they need no record. Written durably when it changes, so a restarted
 * node still removes a namespace created by its previous process.
 */
import { readFileSync } from 'node:fs';
import { writeFileDurably } from '../../util/durable-file.js';
import { isNetnsName } from './validate.js';

/** The record's file name in a node's data dir (`shoal down` reads it to remove what a crashed node left). */
export const NETNS_RECORD_FILE = 'overlay-netns.json';

export class OwnershipRecord {
  private netns = new Set<string>();

  constructor(private readonly file: string | null) {
    if (!file) return;
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { netns?: unknown };
      if (Array.isArray(data.netns)) for (const n of data.netns) if (isNetnsName(n)) this.netns.add(n);
    } catch {
      // absent or unreadable: nothing recorded (links and the table are still found by name)
    }
  }

  get ownedNetns(): ReadonlySet<string> {
    return this.netns;
  }

  setNetns(next: Set<string>): void {
    const same = next.size === this.netns.size && [...next].every((n) => this.netns.has(n));
    this.netns = new Set(next);
    if (!same && this.file) writeFileDurably(this.file, JSON.stringify({ netns: [...this.netns].sort() }) + '\n', 0o600);
  }
}
