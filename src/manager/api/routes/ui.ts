/**
 * GET /ui: the web dashboard, served by every manager behind the API's own
 * authentication (the unix socket's owner, or a client certificate of the
 * cluster over TLS); `shoal dashboard` brings it to a browser on this
 * machine. Three static files (no build step, no framework): the page talks
 * to the same API as the CLI, and follows GET /events to stay live.
 *
 * GET /shoal/health: what the dashboard's cluster view shows beyond the
 * Engine API: this manager's Raft view and its gossip members.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../util/version.js';
import { notFound } from '../errors.js';
import type { Deps } from '../options.js';
import type { Router } from '../router.js';

/** The files of the dashboard, by name, with their content types: nothing else is ever read from disk. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export const UI_DIR = 'src/manager/api/ui';

export function uiRoutes(r: Router, d: Deps): void {
  const cache = new Map<string, string>();
  const file = (name: string) => {
    const type = FILES[name];
    if (!type) throw notFound(`no such dashboard file: ${name}`);
    let text = cache.get(name);
    if (text === undefined) cache.set(name, (text = readFileSync(path.join(packageRoot(), UI_DIR, name), 'utf8')));
    return { text, headers: { 'Content-Type': type, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'self'; img-src 'self' data:" } };
  };
  // The router takes /ui and /ui/ alike (a trailing slash is optional).
  r.add('GET', '/ui', () => file('index.html'));
  r.add('GET', '/ui/:file', (req) => file(req.params.file!));
  r.add('GET', '/shoal/health', () => {
    const st = d.ctx.status();
    return {
      body: {
        NodeID: st.nodeId,
        IsLeader: st.isLeader,
        LeaderID: st.leaderId,
        Raft: st.raft,
        Managers: st.managers.map((m) => ({ NodeID: m.nodeId, Addr: m.addr, Reachable: m.reachable, Voter: m.voter })),
        Gossip: d.gossipMembers?.().map((m) => ({ NodeID: m.id, Addr: m.addr, Role: m.role, State: m.state })) ?? null,
      },
    };
  });
}
