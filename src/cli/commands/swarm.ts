/**
 * `shoal swarm update --rotate-gossip-key`: a new cluster gossip key
 * (manager/membership/gossip-keys.ts). `--dispatcher-heartbeat`: docker's
 * flag; agents heartbeat every period, and a node whose daemon is gone keeps
 * its tasks for AGENT_GRACE_PERIODS periods (model/heartbeat.ts).
 * The API checks the value. `shoal swarm admin-cert --out DIR`:
 * a new administrator's client bundle for the API over TLS; its key is made
 * here and never sent.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { writeAdminBundle } from '../../node/admin-bundle.js';
import type { Command } from 'commander';
import type { Cluster } from '../../model/index.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { out, updateWithVersion } from './common.js';
import { formatDuration, parseDuration } from '../units.js';
import { AGENT_GRACE_PERIODS } from '../../model/index.js';

export function registerSwarm(program: Command): void {
  const swarm = program.command('swarm').description('manage the cluster itself');
  swarm
    .command('update')
    .description('change cluster-wide settings')
    .option('--rotate-gossip-key', 'give the cluster a new gossip key; the old one is retired once every node sends with the new one')
    .option('--dispatcher-heartbeat <duration>', `how often agents heartbeat (default 1s); a node whose daemon is gone keeps its tasks for ${AGENT_GRACE_PERIODS} periods, then they are replaced`)
    .action(async (o: { rotateGossipKey?: boolean; dispatcherHeartbeat?: string }, cmd: Command) => {
      if (!o.rotateGossipKey && o.dispatcherHeartbeat === undefined) throw new CliError('nothing to update: give --rotate-gossip-key or --dispatcher-heartbeat');
      const heartbeatNs = o.dispatcherHeartbeat === undefined ? undefined : parseDuration(o.dispatcherHeartbeat);
      const client = clientFor(cmd);
      await updateWithVersion(
        client,
        () => client.get<Cluster>('/swarm'),
        (cur) =>
          client.post('/swarm/update', heartbeatNs === undefined ? cur.Spec : { ...cur.Spec, Dispatcher: { ...cur.Spec.Dispatcher, HeartbeatPeriod: heartbeatNs } }, {
            version: cur.Version.Index,
            ...(o.rotateGossipKey ? { rotateGossipKey: true } : {}),
          }),
      );
      if (o.rotateGossipKey) out('Gossip key rotated: every node now sends with the new key; the old one is retired once they all have.\n');
      if (heartbeatNs !== undefined) out(`Dispatcher heartbeat period set to ${o.dispatcherHeartbeat}: a node whose daemon is gone keeps its tasks for ${formatDuration(AGENT_GRACE_PERIODS * heartbeatNs)}.\n`);
    });
  swarm
    .command('ca')
    .description("rotate the cluster's root CA: every node moves to certificates of a new root, without losing its connections")
    .option('--rotate', 'start a rotation')
    .option('-d, --detach', 'do not wait for the rotation to finish')
    .option('--timeout <seconds>', 'how long to wait for it', '300')
    .action(async (o: { rotate?: boolean; detach?: boolean; timeout: string }, cmd: Command) => {
      if (!o.rotate) throw new CliError('nothing to do: give --rotate');
      const timeoutS = Number(o.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new CliError(`--timeout must be a positive number of seconds, got ${JSON.stringify(o.timeout)}`);
      const client = clientFor(cmd);
      await updateWithVersion(
        client,
        () => client.get<Cluster>('/swarm'),
        (cur) => client.post('/swarm/update', { ...cur.Spec, CAConfig: { ...cur.Spec.CAConfig, ForceRotate: (cur.Spec.CAConfig?.ForceRotate ?? 0) + 1 } }, { version: cur.Version.Index }),
      );
      if (o.detach) return out('CA rotation started: every node first trusts the new root, then renews its certificate with it (shoal swarm ca shows nothing more; GET /swarm: RootRotationInProgress).\n');
      out('CA rotation started: waiting until every ready node trusts the new root and holds a certificate of it…\n');
      const deadline = Date.now() + timeoutS * 1000;
      for (;;) {
        const s = await client.get<Cluster & { RootRotationInProgress?: boolean }>('/swarm');
        if (!s.RootRotationInProgress) break;
        if (Date.now() > deadline) throw new CliError(`the CA rotation has not finished within ${timeoutS}s: a ready node has not moved yet (it goes on; check shoal node ls)`);
        await new Promise((r) => setTimeout(r, 500));
      }
      out('CA rotation done: the new root is the cluster CA. The join tokens changed (shoal join-token worker|manager); admin bundles made before it need making again (shoal swarm admin-cert).\n');
    });
  swarm
    .command('admin-cert')
    .description('make a client certificate bundle (ca.pem, cert.pem, key.pem) for the API over TLS, e.g. for the docker CLI on another machine')
    .requiredOption('--out <dir>', 'directory to write the bundle to (created; must not already hold one)')
    .option('--name <name>', 'who the certificate is for (its CN)', 'admin')
    .action(async (o: { out: string; name: string }, cmd: Command) => {
      const dir = path.resolve(o.out);
      if (existsSync(path.join(dir, 'key.pem'))) throw new CliError(`${dir} already holds a key.pem: choose another --out`);
      const client = clientFor(cmd);
      const { createNodeKey } = await import('../../wire/pki/csr.js');
      const key = await createNodeKey(o.name);
      const r = await client.post<{ Certificate: string; CA: string }>('/swarm/admin-cert', { Name: o.name, CSR: key.csrPem });
      writeAdminBundle(dir, { caPem: r.CA, certPem: r.Certificate, keyPem: key.keyPem });
      out(`Wrote ${dir}/{ca,cert,key}.pem for ${o.name}. Use it with:\n  export DOCKER_HOST=tcp://<manager>:<api port> DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${dir}\n`);
    });
}
