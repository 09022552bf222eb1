import type { LogLine } from '../interface.js';

/**
 * Docker's multiplexed stdio stream (containers without a TTY): frames of
 *   [stream type: 1 stdout, 2 stderr][0 0 0][payload length, uint32 BE][payload]
 * Frames do not align with lines, so bytes are kept per stream until a newline.
 */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly partial: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] };

  /** Feeds bytes; returns the complete lines they finished, in order. */
  push(chunk: Buffer): { stream: 'stdout' | 'stderr'; text: string }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const stream = this.buf[0] === 2 ? 'stderr' : 'stdout';
      let payload = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      for (;;) {
        const nl = payload.indexOf(0x0a);
        if (nl < 0) break;
        const line = Buffer.concat([...this.partial[stream], payload.subarray(0, nl)]);
        this.partial[stream] = [];
        out.push({ stream, text: line.toString('utf8') });
        payload = payload.subarray(nl + 1);
      }
      if (payload.length) this.partial[stream].push(Buffer.from(payload));
    }
    return out;
  }

  /** What is left without a final newline, at the end of the stream. */
  end(): { stream: 'stdout' | 'stderr'; text: string }[] {
    const out: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream].length) out.push({ stream, text: Buffer.concat(this.partial[stream]).toString('utf8') });
      this.partial[stream] = [];
    }
    return out;
  }
}

/** A line from `logs?timestamps=1`: "2024-05-01T10:00:00.123456789Z text" → time (ms) and text. */
export function parseTimestamped(stream: 'stdout' | 'stderr', text: string): LogLine {
  const sp = text.indexOf(' ');
  const stamp = sp > 0 ? text.slice(0, sp) : text;
  const time = parseRfc3339Ms(stamp);
  if (time === null) return { stream, time: Date.now(), line: text };
  return { stream, time, line: sp > 0 ? text.slice(sp + 1) : '' };
}

/** RFC 3339 with up to nanoseconds, to ms (Date.parse is not promised to take more than 3 fraction digits). */
export function parseRfc3339Ms(s: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const base = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(base)) return null;
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return base + Math.floor(frac);
}
