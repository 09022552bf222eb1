/** Records written, by level: a node that starts logging errors in a loop shows on a graph. */
export class LogMetrics {
  readonly byLevel = new Map<string, number>();

  count(level: string): void {
    this.byLevel.set(level, (this.byLevel.get(level) ?? 0) + 1);
  }
}
