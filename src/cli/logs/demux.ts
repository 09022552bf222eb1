/**
 * Docker's log stream formats. A TTY stream is raw bytes. Otherwise each
 * frame has an 8-byte header — [stream (0 stdin, 1 stdout, 2 stderr), 0, 0,
 * 0, size as big-endian uint32] — then `size` bytes. The Content-Type says
 * which (application/vnd.docker.multiplexed-stream or .raw-stream); when it
 * says neither, the first bytes decide: a valid header starts 0|1|2,0,0,0.
 */

export type StreamKind = 'multiplexed' | 'raw';

export function kindFromContentType(ct: string | undefined): StreamKind | undefined {
  if (!ct) return undefined;
  if (ct.includes('multiplexed-stream')) return 'multiplexed';
  if (ct.includes('raw-stream')) return 'raw';
  return undefined;
}

export function looksMultiplexed(head: Buffer): boolean {
  return head.length >= 8 && head[0]! <= 2 && head[1] === 0 && head[2] === 0 && head[3] === 0;
}

export type Sink = (stream: 'stdout' | 'stderr', data: Buffer) => void;

/** Feeds chunks of one response, in order; calls `sink` with each payload. */
export class Demuxer {
  private kind: StreamKind | undefined;
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    kind: StreamKind | undefined,
    private readonly sink: Sink,
  ) {
    this.kind = kind;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.kind === undefined) {
      if (this.buf.length < 8) return;
      this.kind = looksMultiplexed(this.buf) ? 'multiplexed' : 'raw';
    }
    if (this.kind === 'raw') {
      this.sink('stdout', this.buf);
      this.buf = Buffer.alloc(0);
      return;
    }
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const payload = this.buf.subarray(8, 8 + size);
      this.sink(this.buf[0] === 2 ? 'stderr' : 'stdout', payload);
      this.buf = this.buf.subarray(8 + size);
    }
  }

  /** End of the response: a short raw tail is still output; a cut frame is dropped. */
  end(): void {
    if (this.kind !== 'multiplexed' && this.buf.length > 0) this.sink('stdout', this.buf);
    this.buf = Buffer.alloc(0);
  }
}

/**
 * Splits payloads into lines and prefixes each with docker's task context:
 * with `details=true` the API starts a line with its attributes
 * (`com.docker.swarm.task.id=…,com.docker.swarm.node.id=… message`); they
 * become `web.1.<task>@<node>    | message`.
 */
export class LinePrefixer {
  private partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  constructor(
    private readonly name: (attrs: Record<string, string>) => string | undefined,
    private readonly write: (stream: 'stdout' | 'stderr', line: string) => void,
  ) {}

  push(stream: 'stdout' | 'stderr', data: Buffer): void {
    const text = this.partial[stream] + data.toString('utf8');
    const lines = text.split('\n');
    this.partial[stream] = lines.pop()!;
    for (const l of lines) this.write(stream, this.format(l) + '\n');
  }

  end(): void {
    for (const s of ['stdout', 'stderr'] as const) if (this.partial[s]) this.write(s, this.format(this.partial[s]) + '\n');
    this.partial = { stdout: '', stderr: '' };
  }

  private format(line: string): string {
    // A timestamp (with --timestamps) comes first, then the details, then the message.
    const m = /^(\d{4}-\d\d-\d\dT\S+ )?((?:[\w.-]+=[^,\s]*,)*[\w.-]+=[^,\s]*) (.*)$/s.exec(line);
    if (!m || !m[2]!.includes('com.docker.swarm.')) return line;
    const attrs = Object.fromEntries(m[2]!.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const ctx = this.name(attrs);
    return ctx ? `${m[1] ?? ''}${ctx}    | ${m[3]}` : `${m[1] ?? ''}${m[3]}`;
  }
}
