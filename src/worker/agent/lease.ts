import { closeSync, openSync, utimesSync } from 'node:fs';

/**
 * The agent's liveness lease for fencing: a file whose mtime the agent
 * refreshes every `everyMs` while its process lives. Task supervisors check
 * it and kill their task when it goes stale (TaskRunSpec.fence).
 */
export class Lease {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    closeSync(openSync(this.path, 'a'));
    this.touch();
    this.timer = setInterval(() => this.touch(), this.everyMs);
    this.timer.unref();
  }

  private touch(): void {
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // the data dir vanished: the supervisors will fence, which is right
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
