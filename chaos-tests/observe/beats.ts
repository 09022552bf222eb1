/**
 * The ground truth of what runs: every task of the service workload
 * stamps <beats>/<taskID> every 100 ms and writes its start time to
 * <taskID>.start once (workload/services.ts). Polling the mtimes gives each
 * task's alive interval [start, last beat] on the run clock, whatever the
 * managers believe — a task on a partitioned node keeps beating, a fenced
 * task stops. Resolution: about one beat (100 ms, more on a loaded machine).
 */
import { Sampler } from './sampler.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RunClock } from '../clock.js';

export interface AliveInterval {
  first: number;
  last: number;
}

export class BeatWatcher extends Sampler {
  readonly alive = new Map<string, AliveInterval>();

  constructor(
    readonly dir: string,
    private readonly clock: RunClock,
    everyMs = 200,
  ) {
    super(everyMs);
  }

  override async stop(): Promise<void> {
    await super.stop();
    this.poll();
  }

  /** Task IDs whose last beat is within `withinMs` of now. */
  liveNow(withinMs = 1_000): string[] {
    this.poll();
    const now = this.clock.now();
    return [...this.alive].filter(([, a]) => now - a.last <= withinMs).map(([id]) => id);
  }

  protected tick(): void {
    this.poll();
  }

  private poll(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.endsWith('.start')) continue;
      let mtime: number;
      try {
        mtime = this.clock.fromWall(statSync(path.join(this.dir, name)).mtimeMs);
      } catch {
        continue;
      }
      const a = this.alive.get(name);
      if (a) {
        a.last = Math.max(a.last, mtime);
        continue;
      }
      let first = mtime;
      try {
        const s = Number(readFileSync(path.join(this.dir, `${name}.start`), 'utf8').trim());
        if (Number.isFinite(s) && s > 0) first = Math.min(first, this.clock.fromWall(s));
      } catch {
        /* no start stamp yet: the first beat will do */
      }
      this.alive.set(name, { first, last: mtime });
    }
  }
}
