/**
 * bench:density's peer: a single-node Docker Swarm on a private dockerd
 * (test/helpers/dockerd.ts: own socket, data and exec roots, no registry),
 * given the same service as Shoal — N replicas of busybox `sleep 86400` —
 * through the same API call, and measured the same way.
 */
import { spawnSync } from 'node:child_process';
import { startDockerd, type Dockerd } from '../test/helpers/dockerd.js';
import { quiet, createAndTime, medianUsedKiB, mibPerTask, progress, pssKiB, signedMiB, sleep, until, type Api } from './density-measure.js';

/**
 * A bridge of our own rather than the tests' shoaldock0: the tests share
 * that one and leave it in place, so deleting it at the end could pull it
 * from under a concurrent test's daemon; this one is ours to remove. Each
 * task's container takes an address of its subnet: a /24 ran 253 of 300
 * and left the rest pending, a /20 has 4,093.
 */
const BRIDGE = 'shoaldens0';
const BRIDGE_ADDR = '10.213.80.1';
const BRIDGE_CIDR = `${BRIDGE_ADDR}/20`;
/** The host bridge `swarm init` creates for its containers' way out; it outlives the daemon. */
const GW_BRIDGE = 'docker_gwbridge';

export interface SwarmFigures {
  swarm_all_running_ms: number | null;
  swarm_mb_per_task: number | null;
  swarm_pss_mb_per_task: number | null;
}

/** The figures when the peer could not run or failed. */
export const NO_SWARM: SwarmFigures = { swarm_all_running_ms: null, swarm_mb_per_task: null, swarm_pss_mb_per_task: null };

const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0;
const deleteLink = (name: string) => spawnSync('ip', ['link', 'del', name], { stdio: 'ignore' });

export class SwarmPeer {
  private constructor(
    private readonly d: Dockerd,
    private readonly api: Api,
    /** The bridges that did not exist before we started, so ours to delete. */
    private readonly ownLinks: string[],
  ) {}

  /** dockerd up, busybox imported from the rootfs tarball, swarm initialised. */
  static async start(tarball: string): Promise<SwarmPeer> {
    const ownLinks = [BRIDGE, GW_BRIDGE].filter((l) => !linkExists(l));
    let d: Dockerd;
    try {
      d = await startDockerd({ name: 'bench-density', bridge: BRIDGE, bridgeCidr: BRIDGE_CIDR });
    } catch (err) {
      for (const l of ownLinks) if (linkExists(l)) deleteLink(l);
      throw err;
    }
    const api: Api = (m, p, b) => d.api(m, p, b);
    const peer = new SwarmPeer(d, api, ownLinks);
    try {
      await d.importImage(tarball, 'busybox:latest');
      // Listening on the bridge address only, not Swarm's default 0.0.0.0:2377, which another swarm on this machine may hold.
      const r = await api('POST', '/swarm/init', { ListenAddr: `${BRIDGE_ADDR}:2377`, AdvertiseAddr: BRIDGE_ADDR });
      if (r.status !== 200) throw new Error(`swarm init: ${r.status} ${JSON.stringify(r.body)}`);
      const ready = await until(async () => {
        const nodes = (await api('GET', '/nodes')).body as { Status: { State: string } }[];
        return Array.isArray(nodes) && nodes.length === 1 && nodes[0]!.Status.State === 'ready';
      }, 60_000);
      if (!ready) throw new Error('the swarm node did not become ready within 60 s');
      return peer;
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  /** Time to n running and memory per task, then the service removed and its containers gone. */
  async measure(n: number, o: { deadlineMs: number; pollMs: number; settleMs: number }): Promise<SwarmFigures> {
    const name = `density-swarm-${n}`;
    await quiet();
    const before = await medianUsedKiB();
    const pssBefore = pssKiB(this.d.pid, this.d.dir);
    // The API, not `docker service create`: that is what Shoal gets, and the CLI would try to resolve the image on a registry.
    const r = await createAndTime(this.api, { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '86400'] } } }, n, o);
    progress(`  swarm: ${r.running}/${n} running${r.allRunningMs === null ? ' at the deadline' : ` in ${r.allRunningMs} ms`}`);
    await sleep(o.settleMs);
    const after = await medianUsedKiB();
    const pssAfter = pssKiB(this.d.pid, this.d.dir);
    progress(`  swarm: used memory ${signedMiB(after - before)}, dockerd's PSS ${signedMiB(pssAfter - pssBefore)}`);
    await this.remove(name);
    const all = r.allRunningMs !== null;
    return {
      swarm_all_running_ms: r.allRunningMs,
      swarm_mb_per_task: all ? mibPerTask(before, after, n) : null,
      swarm_pss_mb_per_task: all ? mibPerTask(pssBefore, pssAfter, n) : null,
    };
  }

  private async remove(name: string): Promise<void> {
    await this.api('DELETE', `/services/${name}`);
    const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${name}`] }));
    const gone = await until(async () => {
      const list = (await this.api('GET', `/containers/json?all=1&filters=${filters}`)).body;
      return Array.isArray(list) && list.length === 0;
    }, 180_000, 500);
    if (!gone) progress(`  swarm: ${name}'s containers still exist after 180 s`);
  }

  /** Leaves the swarm, stops the daemon (containers, containerd, shims, mounts, its directory), removes our bridges. */
  async close(): Promise<void> {
    await this.api('POST', '/swarm/leave?force=1').catch((err: Error) => progress(`swarm leave: ${err.message}`));
    await this.d.stop().catch((err: Error) => progress(`stopping dockerd: ${err.message}`));
    for (const l of this.ownLinks) if (linkExists(l)) deleteLink(l);
  }
}
