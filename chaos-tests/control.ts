/**
 * Client of a node's chaos control socket (`<dataDir>/chaos.sock`, served by
 * node/control-server.ts in every node the harness starts): one JSON line
 * out, one back. A paused node answers nothing, so every call has a deadline
 * and resolves to null when it passes.
 */
import net from 'node:net';
import path from 'node:path';

export interface RaftView {
  isLeader: boolean;
  leaderId: string | null;
  term: number;
  commit: number;
  applied: number;
}

export interface NodeStatus {
  ok: true;
  nodeId: string;
  pid: number;
  role: string;
  clockOffsetMs: number;
  raft: RaftView | null;
}

export type ControlCommand =
  | { cmd: 'ping' }
  | { cmd: 'status' }
  | { cmd: 'heal' }
  | { cmd: 'clock'; offsetMs: number }
  | { cmd: 'transfer'; to: string }
  | { cmd: 'partition'; blocks: { from: string[]; to: string[] }[]; addrs: Record<string, string> };

export function controlSocket(dataDir: string): string {
  return path.join(dataDir, 'chaos.sock');
}

export function control<T = { ok: boolean; error?: string }>(dataDir: string, cmd: ControlCommand, timeoutMs = 1_000): Promise<T | null> {
  return new Promise((resolve) => {
    const c = net.connect(controlSocket(dataDir));
    let buf = '';
    const timer = setTimeout(() => finish(null), timeoutMs);
    function finish(v: T | null): void {
      clearTimeout(timer);
      c.destroy();
      resolve(v);
    }
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(cmd) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(JSON.parse(buf.slice(0, nl)) as T);
      } catch {
        finish(null);
      }
    });
    c.on('error', () => finish(null));
    c.on('end', () => finish(null));
  });
}
