/**
 * Convergence progress, two ways. On a terminal: docker's display, one bar
 * per slot (an overall bar alone past 10 tasks), redrawn in place. Elsewhere
 * (pipes, CI, tests): a line per change, "2/3 running", so a reader of the
 * output sees every step once.
 */
import type { Task, TaskState } from '../../model/index.js';
import { TASK_STATES } from '../../model/index.js';

export interface Snapshot {
  name: string;
  desired: number;
  /** Tasks whose desired state is running (of the current spec, for an update). */
  tasks: Task[];
  updateState?: string;
  updateMessage?: string;
}

export interface ProgressView {
  update(s: Snapshot): void;
  done(): void;
}

type Out = { write(s: string): unknown; columns?: number };

export function summary(s: Snapshot): string {
  const running = s.tasks.filter((t) => t.Status.State === 'running').length;
  const byState = new Map<string, number>();
  for (const t of s.tasks) if (t.Status.State !== 'running') byState.set(t.Status.State, (byState.get(t.Status.State) ?? 0) + 1);
  const rest = [...byState].map(([st, n]) => `${n} ${st}`).join(', ');
  return `${running}/${s.desired} running${rest ? ` (${rest})` : ''}`;
}

export class PlainProgress implements ProgressView {
  private last = '';
  constructor(private readonly out: Out) {}

  update(s: Snapshot): void {
    const line = summary(s);
    if (line === this.last) return;
    if (this.last === '') this.out.write(`${s.name}\n`);
    this.last = line;
    this.out.write(`${line}\n`);
  }

  done(): void {}
}

const RUNNING_RANK = TASK_STATES.indexOf('running');
const BAR = 50;

/** Docker's bar: how far a task has come from new to running. */
export function bar(state: TaskState | undefined): string {
  const rank = state === undefined ? 0 : Math.min(TASK_STATES.indexOf(state), RUNNING_RANK);
  const filled = state === undefined || rank < 0 ? 0 : Math.round((BAR * (rank + 1)) / (RUNNING_RANK + 1));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR - filled)}]`;
}

export class TtyProgress implements ProgressView {
  private lines = 0;
  constructor(private readonly out: Out) {}

  update(s: Snapshot): void {
    const running = s.tasks.filter((t) => t.Status.State === 'running').length;
    const body = [s.name, `overall progress: ${running} out of ${s.desired} tasks`];
    if (s.desired <= 10) {
      const bySlot = [...s.tasks].sort((a, b) => a.Slot - b.Slot || (a.Name ?? '').localeCompare(b.Name ?? ''));
      for (let i = 0; i < Math.max(s.desired, bySlot.length); i++) {
        const t = bySlot[i];
        const st = t?.Status.State;
        body.push(`${i + 1}/${s.desired}: ${(st ?? '').padEnd(9)} ${bar(st)}${t && st !== 'running' && t.Status.Message ? ` ${t.Status.Message}` : ''}`);
      }
    }
    const width = this.out.columns || 120;
    // Up to the first line of the last frame, then rewrite every line (clearing leftovers).
    let frame = this.lines > 0 ? `\x1b[${this.lines}A` : '';
    for (const l of body) frame += `\x1b[2K${l.length > width - 1 ? `${l.slice(0, width - 2)}…` : l}\n`;
    this.out.write(frame);
    this.lines = body.length;
  }

  done(): void {}
}
