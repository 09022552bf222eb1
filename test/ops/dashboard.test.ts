/**
 * The web dashboard in a real browser (Debian's headless `chromium`, driven
 * over the DevTools protocol) against a real `shoal up` cluster, through
 * `shoal dashboard`:
 * - without the URL's token nothing is served;
 * - the page shows the cluster (leader, Raft members, gossip view), the
 *   node, and the service with its replicas, and follows /events ("live");
 * - scaling from the UI asks for confirmation: Cancel changes nothing,
 *   Confirm changes the service in the API, and the page shows the new
 *   count without a reload;
 * - a screenshot is saved under .tap/dashboard/ and is not blank.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Browser, pngPixels } from '../helpers/chromium.js';
import { distFile, repoRoot } from '../helpers/dist.js';
import { onPath } from '../helpers/on-path.js';
import { claimOctets } from '../helpers/octets.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';

const chromium = onPath('chromium');

t.test('dashboard: see the cluster, scale a service with confirmation, live updates, screenshot', { skip: chromium ? false : 'chromium is not installed (Debian package chromium): the browser test is skipped' }, async (t) => {
  const cwd = t.testdir();
  const prefix = `127.0.${claimOctets(200, 250)}`;
  const shoal = (...args: string[]) => shoalProcess(args, { cwd, timeoutMs: 90_000 });
  let r = await shoal('up', '--managers', '1', '--workers', '0', '--ip-prefix', prefix);
  t.equal(r.code, 0, r.err);
  // Whatever happens below, the node processes go (the test dir may be gone before a `shoal down` could run).
  const pids = (JSON.parse(readFileSync(path.join(cwd, '.shoal', 'cluster.json'), 'utf8')) as { nodes: { pid: number | null }[] }).nodes.map((n) => n.pid).filter((p): p is number => p !== null);
  t.teardown(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  r = await shoal('service', 'create', '--name', 'web', '--replicas', '1', '--runtime', 'process', '--', 'sleep', '600');
  t.equal(r.code, 0, r.err);

  const dash = spawn(process.execPath, [distFile('bin/shoal.js'), 'dashboard'], { cwd, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    dash.kill('SIGTERM');
  });
  let out = '';
  let err = '';
  dash.stdout.on('data', (d: Buffer) => (out += d.toString()));
  dash.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const url = await waitFor(() => /(http:\/\/127\.0\.0\.1:\d+\/ui\/\?token=\S+)/.exec(out)?.[1], { timeoutMs: 20_000, what: `shoal dashboard's URL\n${err}` });
  const origin = new URL(url).origin;

  // ---- the token is the key
  t.equal((await fetch(`${origin}/ui/`)).status, 401, 'no token, no page');
  t.equal((await fetch(`${origin}/services`)).status, 401, 'no token, no API');
  t.equal((await fetch(`${origin}/ui/?token=wrong`, { redirect: 'manual' })).status, 401, 'a wrong token');
  const traded = await fetch(url, { redirect: 'manual' });
  t.equal(traded.status, 303, 'the token is traded for a cookie');
  const cookie = traded.headers.get('set-cookie')!.split(';')[0]!;
  t.match(traded.headers.get('set-cookie'), /HttpOnly; SameSite=Strict/);
  t.equal((await fetch(`${origin}/services`, { headers: { cookie } })).status, 200, 'the cookie opens the API');
  const forged = await fetch(`${origin}/services/create`, { method: 'POST', headers: { cookie, origin: 'http://elsewhere.example', 'content-type': 'application/json' }, body: '{"Name":"x"}' });
  t.equal(forged.status, 401, 'a change from another origin is refused, cookie or not');

  const b = await Browser.launch(chromium!);
  t.teardown(() => b.close());
  await b.navigate(url);
  const page = <T>(expr: string) => b.eval<T>(expr);
  await waitFor(() => page<boolean>(`document.body.dataset.loaded === 'true' && document.querySelector('tr[data-service="web"] .replicas')?.dataset.replicas === '1/1'`), {
    timeoutMs: 30_000,
    what: 'the page shows web at 1/1',
  });
  await waitFor(() => page<boolean>(`document.querySelector('#live').textContent === 'live'`), { timeoutMs: 10_000, what: 'the page follows /events' });
  t.match(await page<string>(`document.querySelector('#cluster').textContent`), /^leader: manager1 · term \d+ · commit \d+$/, 'the leader and Raft position');
  t.match(await page<string>(`document.querySelector('#managers').textContent`), /manager1 reachable \(leader\)/, 'Raft members');
  t.match(await page<string>(`document.querySelector('#gossip').textContent`), /manager1 \S+ alive/, 'the gossip view');
  t.match(await page<string>(`document.querySelector('tr[data-node="manager1"]').textContent`), /manager1\s*manager\s*ready\s*active\s*Leader/, 'the node');

  // ---- scale: Cancel changes nothing
  const scaleTo = async (n: number, button: 'ok' | 'cancel') => {
    await page(`document.querySelector('tr[data-service="web"] button[data-action="scale"]').click()`);
    await waitFor(() => page<boolean>(`document.querySelector('#confirm').open`), { timeoutMs: 5_000, what: 'the confirmation dialog' });
    t.equal(await page<string>(`document.querySelector('#confirm-title').textContent`), 'Scale web');
    await page(`document.querySelector('#confirm-input').value = '${n}'; document.querySelector('#confirm-${button}').click()`);
  };
  const replicasInApi = async () => (await shoal('service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', 'web')).out.trim();
  await scaleTo(5, 'cancel');
  t.equal(await page<boolean>(`document.querySelector('#confirm').open`), false, 'the dialog closed');
  t.equal(await replicasInApi(), '1', 'Cancel: the service is unchanged');

  // ---- Confirm: the API has it, and the page follows without a reload
  const marker = await page<number>(`window.__noReload = 42`);
  await scaleTo(3, 'ok');
  await waitFor(async () => (await replicasInApi()) === '3', { timeoutMs: 15_000, what: 'the API shows 3 replicas' });
  t.pass('scaled to 3 from the UI, as the API shows');
  await waitFor(() => page<boolean>(`document.querySelector('tr[data-service="web"] .replicas')?.dataset.replicas === '3/3'`), { timeoutMs: 30_000, what: 'the page shows web at 3/3' });
  t.equal(await page<number>(`window.__noReload`), marker, 'the same page, updated live');
  t.match(await page<string>(`document.querySelector('#events').textContent`), /service update web/, 'the event list shows the update');

  // ---- the screenshot
  const png = await b.screenshot();
  const dir = path.join(repoRoot, '.tap', 'dashboard');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'dashboard.png');
  writeFileSync(file, png);
  const img = pngPixels(readFileSync(file));
  // The background is the commonest colour; a blank page is (almost) all of it.
  const counts = new Map<number, number>();
  for (let i = 0; i < img.data.length; i += img.channels) {
    const rgb = img.data.readUIntBE(i, 3);
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  const colors = counts;
  const inked = img.width * img.height - Math.max(...counts.values());
  const share = inked / (img.width * img.height);
  t.comment(`screenshot ${file}: ${img.width}x${img.height}, ${colors.size} colours, ${(share * 100).toFixed(1)} % not background`);
  t.ok(img.width >= 800 && img.height >= 600, 'a full page');
  t.ok(colors.size > 20 && share > 0.05, 'not blank: text and tables drawn');

  r = await shoal('down', '--purge');
  t.equal(r.code, 0, r.err);
});
