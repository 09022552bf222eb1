/**
 * Shoal nodes on "machines": each node in its own network namespace with
 * its own address on a test bridge (NetnsLab), started with the runtime the
 * test asks for, the busybox image imported on every node, all Ready. The
 * overlay tests share this setup and the task queries every one of them
 * makes.
 */
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { NetnsLab } from '../../chaos-tests/netns.js';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';

export const run = promisify(execFile);

/** Why these tests cannot run here (they skip with it), or null. */
export function machinesUnavailable(): string | null {
  const why = NetnsLab.unavailable();
  if (why) return why;
  if (!busyboxBinary() || !existsSync('/bin/busybox')) return 'busybox-static is not installed (at /bin/busybox)';
  if (!['/usr/bin/crun', '/usr/sbin/runc', '/usr/bin/runc'].some((p) => existsSync(p))) return 'neither crun nor runc is installed';
  return null;
}

export interface TaskJson {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: {
    State: string;
    Err?: string;
    Timestamp?: string;
    ContainerStatus?: { PID?: number };
    PortStatus?: { Ports?: { TargetPort: number; PublishedPort: number; PublishMode: string; Protocol: string }[] };
  };
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

export interface Machines {
  lab: NetnsLab;
  c: ProcCluster;
  /** The manager first, then the workers. */
  nodes: NodeProc[];
  /** The tasks of a service the managers want running. */
  tasks(svc: string): Promise<TaskJson[]>;
  /** Those tasks once exactly `n` run (else null, for waitFor); a task's error is commented. */
  running(svc: string, n: number): Promise<TaskJson[] | null>;
}

/** `count` machines (1 manager + workers), torn down with the test; `labBase` keeps parallel files on their own bridges; `env` goes to every node (e.g. DOCKER_HOST). */
export async function startMachines(t: Test, count: number, runtime: 'oci' | 'process', labBase: number, env: Record<string, string> = {}): Promise<Machines> {
  const lab = new NetnsLab(labBase + (process.pid % 40), (m) => t.comment(m));
  await lab.setup(count);
  t.teardown(() => lab.teardown(count));
  const c = new ProcCluster(undefined, env, { host: (i) => lab.host(i), wrap: (i) => lab.wrap(i) });
  t.teardown(() => c.close());
  const args = ['--runtime', runtime];
  const m1 = await c.init({ args });
  const nodes = [m1];
  for (let i = 1; i < count; i++) nodes.push(await c.join('worker', m1, { args }));
  // What `shoal image import busybox:latest <tarball> --data-dir <dir>` does (src/cli/commands/image.ts),
  // in-process: the command itself is tested in test/runtime/images.test.ts. Rejects (and fails the test) on an error.
  await Promise.all(nodes.map((n) => new ImageStore(path.join(n.dataDir, 'images')).import('busybox:latest', busyboxRootfs().tarball)));
  await waitFor(async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length === count, {
    timeoutMs: 30_000,
    what: `${count} ready nodes`,
  });
  const tasks = async (svc: string) => (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: [svc], 'desired-state': ['running'] })))).json<TaskJson[]>();
  const running = async (svc: string, n: number) => {
    const l = await tasks(svc);
    const bad = l.find((x) => x.Status.Err);
    if (bad) t.comment(`${svc}: ${bad.Status.State} ${bad.Status.Err}`);
    return l.filter((x) => x.Status.State === 'running').length === n ? l : null;
  };
  return { lab, c, nodes, tasks, running };
}
