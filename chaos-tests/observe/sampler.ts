import { sleep } from '../clock.js';

/**
 * What every observer of a chaos run shares: sample every `everyMs` from
 * start() until stop(), one sample at a time (a slow sample delays the next
 * rather than overlapping it). `n` counts samples, for work done every k-th.
 */
export abstract class Sampler {
  private stopped = false;
  private done: Promise<void> | null = null;

  constructor(private readonly everyMs: number) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  protected abstract tick(n: number): Promise<unknown> | void;

  private async loop(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      await this.tick(n);
      await sleep(this.everyMs);
    }
  }
}
