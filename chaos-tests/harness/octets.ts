/**
 * Loopback address blocks for test clusters: 127.0.<octet>.x. Test files run
 * in parallel (tap jobs), and each used to pick its octet from its PID
 * modulo a range, so two files could pick the same one (1 in 100 per pair
 * running together) and their nodes fought over one address: a node that
 * could not bind never printed its join tokens, or one cluster's agents
 * reached the other's managers. A claim is a file per octet, created
 * exclusively and holding the claimer's PID; a claim whose process is gone is
 * taken over; claims are dropped when the process exits.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dir = path.join(tmpdir(), 'shoal-test-octets');
const mine = new Set<string>();
let hooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryClaim(octet: number): boolean {
  const f = path.join(dir, String(octet));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(f, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      mine.add(f);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(f, 'utf8').trim());
      // Being written this instant (empty) or held by a live process: not ours.
      if (!owner || alive(owner)) return false;
      // A dead claimer's file. Known race, accepted: two processes taking over the same stale claim
      // at once could both succeed (the second removes the first's new file). It needs a claimer
      // that died without its exit hook and two files starting in the same instant.
      rmSync(f, { force: true });
    }
  }
  return false;
}

/**
 * Claims `count` consecutive octets in [lo, hi) for this process and returns
 * the first. Starts at a PID-derived place so parallel files rarely contend.
 */
export function claimOctets(lo: number, hi: number, count = 1): number {
  mkdirSync(dir, { recursive: true });
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const f of mine) rmSync(f, { force: true });
    });
  }
  const span = hi - lo - count + 1;
  if (span <= 0) throw new RangeError(`no room for ${count} octets in [${lo}, ${hi})`);
  const start = process.pid % span;
  for (let i = 0; i < span; i++) {
    const base = lo + ((start + i) % span);
    const got: number[] = [];
    for (let k = 0; k < count && tryClaim(base + k); k++) got.push(base + k);
    if (got.length === count) return base;
    for (const o of got) {
      const f = path.join(dir, String(o));
      rmSync(f, { force: true });
      mine.delete(f);
    }
  }
  throw new Error(`every loopback block 127.0.${lo}-${hi - 1}.x is claimed by a running test (${dir})`);
}
