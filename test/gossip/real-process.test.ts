import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { distFile } from '../helpers/dist.js';
import { waitFor } from '../helpers/wait.js';
import { Keyring } from '../../src/gossip/keyring.js';

interface Line {
  at: number;
  type: string;
  id?: string;
  inc?: number;
  msg?: string;
}

interface Node {
  id: string;
  addr: string;
  proc: ChildProcess;
  lines: Line[];
}

const port = 20_000 + (process.pid % 20_000);
const key = Keyring.generateKey();
const nodes = new Map<string, Node>();
t.teardown(() => {
  for (const n of nodes.values()) n.proc.kill('SIGKILL');
});

async function start(i: number, opts: { key?: string; seeds?: string[] } = {}): Promise<Node> {
  const id = `n${i}`;
  const host = `127.0.0.${10 + i}`;
  const addr = `${host}:${port}`;
  const proc = spawn(process.execPath, [distFile('test/gossip/fixtures/gossip-node.js'), id, host, String(port), opts.key ?? key, (opts.seeds ?? []).join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const n: Node = { id, addr, proc, lines: [] };
  createInterface({ input: proc.stdout! }).on('line', (l) => n.lines.push(JSON.parse(l) as Line));
  nodes.set(id, n);
  await waitFor(() => n.lines.some((l) => l.type === 'ready'), { what: `${id} ready` });
  return n;
}

/** The latest membership view `n` reported for `id`. */
const view = (n: Node, id: string) => n.lines.filter((l) => l.id === id && l.type !== 'log').at(-1);
const knowsAlive = (n: Node, id: string) => ['joined', 'alive', 'updated'].includes(view(n, id)?.type ?? '');

t.test('5 nodes on their own loopback addresses: join, kill -9, restart, wrong key', async (t) => {
  const first = await start(1);
  for (let i = 2; i <= 5; i++) await start(i, { seeds: [first.addr] });
  const ids = [...nodes.keys()];
  await waitFor(() => [...nodes.values()].every((n) => ids.every((id) => id === n.id || knowsAlive(n, id))), {
    timeoutMs: 15_000,
    what: 'everyone knows everyone',
  });
  t.pass('all 5 joined');

  // kill -9 one member: everyone else declares it dead within 3 s.
  const victim = nodes.get('n3')!;
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  nodes.delete('n3');
  const survivors = [...nodes.values()];
  await waitFor(() => survivors.every((n) => view(n, 'n3')?.type === 'dead'), { timeoutMs: 10_000, what: 'n3 declared dead everywhere' });
  for (const n of survivors) {
    const ms = view(n, 'n3')!.at - killedAt;
    t.ok(ms <= 3_000, `${n.id} declared n3 dead ${ms} ms after kill -9`);
  }
  const deadInc = view(survivors[0]!, 'n3')!.inc!;

  // Restart it at the same address: alive again everywhere, with a higher incarnation.
  await start(3, { seeds: [first.addr] });
  await waitFor(() => survivors.every((n) => knowsAlive(n, 'n3')), { timeoutMs: 10_000, what: 'n3 alive again everywhere' });
  for (const n of survivors) t.ok(view(n, 'n3')!.inc! > deadInc, `${n.id} sees n3 back at incarnation ${view(n, 'n3')!.inc} > ${deadInc}`);

  // A node with the wrong key never joins: its push-pulls are refused and its datagrams dropped.
  const stranger = await start(6, { key: Keyring.generateKey(), seeds: [first.addr, nodes.get('n2')!.addr] });
  await waitFor(() => stranger.lines.filter((l) => l.type === 'log' && /push-pull .* failed/.test(l.msg ?? '')).length >= 2, {
    timeoutMs: 15_000,
    what: 'the stranger sees its join refused',
  });
  const members = [...nodes.values()].filter((n) => n !== stranger);
  t.ok(members.every((n) => view(n, 'n6') === undefined), 'no member ever heard of n6');
  t.ok(stranger.lines.every((l) => l.type === 'log' || l.type === 'ready' || l.id === 'n6'), 'n6 never learnt of a member');
  t.match(stranger.lines.find((l) => l.type === 'log')?.msg, /authenticate/, 'refused for failing authentication');
});
