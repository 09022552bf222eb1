/**
 * The process runtime on a machine without Perl: the supervisor spawns each
 * task itself with Node, behind `setpriv --pdeathsig KILL` and the sh cgroup
 * prelude (SHOAL_TASK_FORKER=node forces that path). The shared suite must
 * hold there too, and the tasks are the supervisor's own children.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/wait.js';
import { processTarget, runtimeSuite, spec, taskId } from './suite.js';

process.env.SHOAL_TASK_FORKER = 'node';
const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-nodespawn-'));
// Again at exit: a runtime client still open may have respawned its supervisor, which makes the dir again.
// A supervisor writing into it while it goes makes rm see ENOTEMPTY: retried.
const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
process.on('exit', () => {
  try {
    removeDataDir();
  } catch {
    /* the teardown said why */
  }
});
const target = processTarget('process (node spawn)', dataDir);
const make = target.make;

t.teardown(async () => {
  // Best effort: the last test SIGKILLs the supervisor (its tasks die with it), and listing
  // starts a new one, which a loaded machine may not bring up before the client's deadline.
  try {
    const rt = make();
    for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
  } catch (err) {
    t.comment(`cleanup: ${(err as Error).message}`);
  }
  removeDataDir();
});

runtimeSuite(t, target);

t.test('process (node spawn): the task is the supervisor’s own child and dies with it', async (t) => {
  const rt = make();
  const id = taskId('ns');
  await rt.create(spec(target, id, { args: ['sleep', '300'] }));
  await rt.start(id);
  const pid = (await rt.inspect(id))!.pid!;
  const sup = (await (rt as unknown as { tasks: { supervisor: { hello(): Promise<{ pid: number }> } } }).tasks.supervisor.hello()).pid;
  t.equal(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]), sup);
  process.kill(sup, 'SIGKILL');
  await waitFor(
    () => {
      try {
        process.kill(pid, 0);
        return readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
      } catch {
        return true;
      }
    },
    { timeoutMs: 10_000, what: 'the task to die with its supervisor' },
  );
});
