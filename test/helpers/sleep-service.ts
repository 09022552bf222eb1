import type { HttpResult, NodeProc, ProcCluster } from './procs.js';

/** A task as the API lists it: the fields the density and live-restore tests read. */
export interface ApiTask {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { PID?: number } };
}

/**
 * Creates, through node `n`'s API, a replicated service `name` of
 * `replicas` process tasks that sleep an hour (the tests' idle load), and
 * returns the create's answer with two views of the service: all its tasks,
 * and those meant to run and running.
 */
export async function sleepService(c: ProcCluster, n: NodeProc, name: string, replicas: number): Promise<HttpResult & { tasks(): Promise<ApiTask[]>; running(): Promise<ApiTask[]> }> {
  const r = await c.http(n, 'POST', '/services/create', {
    Name: name,
    TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'sleep', Args: ['3600'] } },
    Mode: { Replicated: { Replicas: replicas } },
  });
  const tasks = async () => (await c.http(n, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name] }))}`, undefined, 10_000)).json<ApiTask[]>();
  const running = async () => (await tasks()).filter((x) => x.DesiredState === 'running' && x.Status.State === 'running');
  return { ...r, tasks, running };
}
