/**
 * At most `limit` holders at once; the others wait in arrival order (a
 * counting semaphore, in callback form, for code that must not await).
 * A holder gives its turn back with give(), which passes it straight to the
 * next in line.
 */
export class Turns {
  private held = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `fn` once a turn is free: at once if one is. */
  take(fn: () => void): void {
    if (this.held < this.limit) {
      this.held++;
      fn();
    } else this.waiting.push(fn);
  }

  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held--;
  }

  /** Forgets everyone still waiting (their turns never come). */
  clear(): void {
    this.waiting.length = 0;
  }
}
