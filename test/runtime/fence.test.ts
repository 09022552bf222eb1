/**
 * Fencing: a task whose node agent is gone (its lease file stops being
 * refreshed) is killed by its supervisor, so it cannot keep running beside
 * the replacement its managers start elsewhere. A live agent's task is left
 * alone however long it runs.
 */
import { closeSync, mkdtempSync, openSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime } from '../../src/worker/runtime/index.js';
import { within } from '../helpers/wait.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-fence-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const lease = path.join(dataDir, 'lease');
closeSync(openSync(lease, 'a'));
const touch = () => utimesSync(lease, new Date(), new Date());

t.test('process runtime: stale lease fences the task; fresh lease keeps it', async (t) => {
  const rt = createRuntime('process', { dataDir });
  const base = { image: 'x', env: [], mounts: [], limits: {}, labels: {}, command: ['sh', '-c', 'while true; do sleep 0.1; done'], fence: { leaseFile: lease, afterMs: 800 } };
  const keep = await rt.create({ ...base, taskId: `keep${process.pid}`, name: 'keep' });
  const doomed = await rt.create({ ...base, taskId: `doom${process.pid}`, name: 'doom' });
  touch();
  const refresher = setInterval(touch, 100);
  await rt.start(keep.taskId);
  await rt.start(doomed.taskId);
  // With the lease fresh, both keep running well past the fence interval.
  const early = await Promise.race([rt.wait(keep.taskId).then(() => 'exited'), new Promise((r) => setTimeout(r, 2_000, 'running'))]);
  t.equal(early, 'running', 'a live agent keeps its tasks');
  // The "agent" dies: no more refreshes.
  clearInterval(refresher);
  const exit = await within(rt.wait(doomed.taskId), 5_000, 'fenced exit');
  t.equal(exit.signal, 'SIGKILL');
  t.match(exit.message, /fenced/, `exit says why: ${exit.message}`);
  await within(rt.wait(keep.taskId), 5_000, 'the other task is fenced too');
  await rt.remove(keep.taskId);
  await rt.remove(doomed.taskId);
});
