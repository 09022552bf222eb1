import type { MessageType } from './registry.js';
import type { Schema } from './schema.js';

/**
 * Static msgpackr record structures, one table per message type.
 *
 * With records on and no shared structures, msgpackr writes every object's
 * key list into every frame (a record definition) and the receiver parses it
 * and builds a reader for it, per frame: on 1 KiB round trips that was most
 * of the codec's cost. A table lists the key lists of the objects a type's
 * schemas describe; both ends derive it from the schemas alone, so a frame
 * can refer to "record 0x40" instead of defining it. Properties kept:
 *
 *  - Deterministic and local to the type: the table depends only on the
 *    type's body / response schemas (and the error body every type may
 *    carry), walked in declaration order. Other types, registered or not, do
 *    not affect it.
 *  - Stable under the schema evolution the wire allows without a version
 *    bump: only required keys, reached through required fields, go in, so
 *    adding an optional field anywhere leaves the table as it was (objects
 *    that carry optional fields are then simply defined inline).
 *  - Checked, never trusted: a frame that uses a table carries the table's
 *    32-bit fingerprint, and a receiver whose table for the type differs
 *    refuses the frame (BAD_VERSION) instead of reading fields under the
 *    wrong names.
 *  - Never mutated at run time. The Packr never promotes a shape into the
 *    shared range (`shouldShareStructure` is always false, and the shared
 *    range is exactly 32 ids so new shapes use own ids): a shape not in the
 *    table is still written self-describingly inside the frame, as before.
 *    On the receiving side every entry is marked `isShared`, so msgpackr puts
 *    back any entry a (hostile) in-frame definition overrode when the frame
 *    ends, decoded or not; the codec drops in-frame definitions after each
 *    frame.
 *  - Frames stay independent: nothing is learned from earlier frames, so a
 *    dropped, duplicated or reordered frame or datagram decodes the same.
 */

/** msgpackr's one-byte record ids: 0x40..0x5f shared, 0x60..0x7f own (in-frame). */
export const MAX_SHARED_STRUCTURES = 32;
export const MAX_OWN_STRUCTURES = 32;

/** A msgpackr structures array: key lists, plus the bookkeeping msgpackr keeps on it. */
export type Structures = string[][] & { sharedLength?: number };

const MAX_DEPTH = 32;

/** The required-key lists of every object shape in the schema tree, depth first, in declaration order. */
function shapesOf(schemas: readonly (Schema<unknown> | undefined)[]): string[][] {
  const out: string[][] = [];
  const seen = new Set<string>();
  const walk = (s: Schema<unknown> | undefined, depth: number): void => {
    if (!s || depth > MAX_DEPTH || out.length >= MAX_SHARED_STRUCTURES) return;
    const keys = s.requiredKeys;
    if (keys && keys.length > 0 && !keys.includes('__proto__')) {
      const id = JSON.stringify(keys);
      if (!seen.has(id)) {
        seen.add(id);
        out.push([...keys]);
      }
    }
    for (const p of s.parts ?? []) walk(p, depth + 1);
  };
  for (const s of schemas) walk(s, 0);
  return out;
}

/** The table for a type: its body's shapes, then its response's, then the error body's. */
export function typeShapes(mt: MessageType, errorBody: Schema<unknown>): string[][] {
  return shapesOf([mt.body as Schema<unknown>, mt.response as Schema<unknown> | undefined, errorBody]);
}

/** FNV-1a over the table's canonical JSON: what a frame carries to say which table it used. */
export function fingerprint(shapes: readonly string[][]): number {
  const text = JSON.stringify(shapes);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A fresh structures array for a Packr (it keeps its transition cache on the array). */
export function packStructures(shapes: readonly string[][]): Structures {
  const s = shapes.map((k) => [...k]) as Structures;
  s.sharedLength = s.length;
  return s;
}

/** A fresh structures array for an Unpackr: every entry shared, so msgpackr restores it if a frame overrides it. */
export function unpackStructures(shapes: readonly string[][]): Structures {
  const s = shapes.map((k) => Object.assign([...k], { isShared: true })) as Structures;
  s.sharedLength = s.length;
  return s;
}
