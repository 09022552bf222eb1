/**
 * One long-lived `nft -i` per data plane, so a rules-only apply (a backend
 * removed) costs no process spawn: on a loaded two-core machine the exec of
 * nft alone measured 30–60 ms of a 60–110 ms `nft -f -`.
 *
 * nft's interactive mode runs each input line as one buffer — one netlink
 * batch, so one atomic transaction — and writes errors to stderr. After each
 * transaction we send a line that is deliberately not a command,
 * `shoalack<n>`: nft answers it with a syntax error that echoes it, on the
 * same stream and after the transaction's own errors, which frames them.
 * Anything unexpected (no ack in time, the process gone) closes the session;
 * the caller falls back to a one-shot `nft -f -` and a later apply starts a
 * new session.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export class NftSession {
  private child: ChildProcess | null = null;
  private stderr = '';
  private seq = 0;
  private waiter: { re: RegExp; resolve: (errors: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  /** Sessions started (each is one process spawn). */
  starts = 0;

  constructor(
    private readonly nftPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Runs one transaction; resolves with its error text ('' when it committed). Rejects when the session broke. */
  run(text: string): Promise<string> {
    if (this.waiter) return Promise.reject(new Error('nft session busy'));
    const child = this.ensure();
    const marker = `shoalack${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new Error(`nft session: no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = { re: new RegExp(`Error: [^\\n]*\\n${marker}\\n *\\^+\\n`), resolve, reject, timer };
      child.stdin!.write(`${oneLine(text)}\n${marker}\n`);
      this.check();
    });
  }

  close(): void {
    const c = this.child;
    this.child = null;
    this.stderr = '';
    if (c) {
      c.stdin?.destroy();
      c.kill('SIGKILL');
    }
    const w = this.waiter;
    this.waiter = null;
    if (w) {
      clearTimeout(w.timer);
      w.reject(new Error('nft session closed'));
    }
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const c = spawn(this.nftPath, ['-i'], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.starts++;
    this.child = c;
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => {
      if (this.child !== c) return;
      this.stderr += d;
      this.check();
    });
    c.on('error', () => this.child === c && this.close());
    c.on('exit', () => this.child === c && this.close());
    c.stdin!.on('error', () => this.child === c && this.close());
    // A session must not keep the node process alive on its own.
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    (c.stderr as unknown as { unref?: () => void }).unref?.();
    return c;
  }

  private check(): void {
    const w = this.waiter;
    if (!w) return;
    const m = w.re.exec(this.stderr);
    if (!m) return;
    const errors = this.stderr.slice(0, m.index);
    this.stderr = this.stderr.slice(m.index + m[0].length);
    this.waiter = null;
    clearTimeout(w.timer);
    w.resolve(errors.trim());
  }
}

/**
 * The multi-line ruleset as one line: statements inside blocks are separated
 * by newlines or `;` alike in nft's grammar, so lines are joined with ` ; `
 * except after an opening brace or a line that already ends with `;`.
 */
export function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let out = '';
  for (const l of lines) {
    if (out && !out.endsWith('{ ') && !out.endsWith('; ')) out += ' ; ';
    out += l.endsWith('{') || l.endsWith(';') ? `${l} ` : l;
  }
  return out;
}
