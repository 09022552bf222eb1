/**
 * One run per key at a time: callers that ask for a key already in flight
 * share its promise (a pull of one image, a fetch of one blob), and the key
 * is free again once it settles.
 */
export class SingleFlight<V> {
  private readonly running = new Map<string, Promise<V>>();

  run(key: string, fn: () => Promise<V>): Promise<V> {
    let p = this.running.get(key);
    if (!p) {
      p = fn().finally(() => this.running.delete(key));
      this.running.set(key, p);
    }
    return p;
  }
}
