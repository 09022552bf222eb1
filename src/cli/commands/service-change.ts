/**
 * `shoal service create|update|scale`: the commands that change a service
 * and then, without -d, wait for it to converge (progress on stdout).
 */
import type { Command } from 'commander';
import { isJobMode } from '../../model/index.js';
import type { Service } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { waitForConvergence } from '../progress/converge.js';
import { waitForJob } from '../progress/job.js';
import { parseDuration, parseReplicas } from '../units.js';
import { enc, getService, out, updateWithVersion, warn } from './common.js';
import { addCreateOptions, addUpdateOptions, createSpec, flagValue, parseNetwork, setReplicas, updateSpec, type CreateFlags, type ScalarFlags, type UpdateFlags } from './service-create-flags.js';

function printWarnings(res: { Warnings?: string[] | null } | undefined): void {
  for (const w of res?.Warnings ?? []) warn(`warning: ${w}\n`);
}

async function converge(client: ApiClient, serviceId: string, f: ScalarFlags, upToDateOnly: boolean, rollback = false): Promise<void> {
  if (f.detach) return;
  const svc = await client.get<Service>(`/services/${enc(serviceId)}`);
  if (isJobMode(svc.Spec.Mode)) {
    return waitForJob(client, { serviceId, timeoutMs: flagValue('--timeout', f.timeout ?? '60s', parseDuration) / 1e6, out: process.stdout, quiet: f.quiet ?? false });
  }
  await waitForConvergence(client, {
    serviceId,
    upToDateOnly,
    rollback,
    timeoutMs: flagValue('--timeout', f.timeout ?? '60s', parseDuration) / 1e6,
    out: process.stdout,
    quiet: f.quiet ?? false,
  });
}

/** A rollback to the service's previous spec (the API's rollback=previous). */
async function rollbackTo(client: ApiClient, cur: Service): Promise<void> {
  // The API ignores the body with rollback=previous, but it must be a well-formed spec.
  printWarnings(await client.post(`/services/${cur.ID}/update`, cur.Spec, { version: cur.Version.Index, rollback: 'previous' }));
}

/**
 * --network-add/--network-rm name networks by name or ID, the spec holds IDs:
 * resolve them first (a network that does not exist is the one error line),
 * so adding a network twice or removing one by name finds the stored entry.
 */
async function withNetworkIds(client: ApiClient, f: UpdateFlags): Promise<UpdateFlags> {
  if (!f.networkAdd && !f.networkRm) return f;
  const idOf = async (ref: string) => (await client.get<{ Id: string }>(`/networks/${enc(ref)}`)).Id;
  const add = await Promise.all(
    (f.networkAdd ?? []).map(async (raw) => {
      const n = flagValue('--network-add', raw, parseNetwork);
      return `name=${await idOf(n.Target)}${(n.Aliases ?? []).map((a) => `,alias=${a}`).join('')}`;
    }),
  );
  const rm = await Promise.all((f.networkRm ?? []).map(idOf));
  return { ...f, networkAdd: add, networkRm: rm };
}

export function registerServiceChanges(service: Command): void {
  addCreateOptions(
    service
      .command('create')
      .description('create a new service')
      .usage('[options] IMAGE [COMMAND] [ARG...]   (process runtime: IMAGE is the program, e.g. sleep 300)')
      .argument('[image-and-command...]')
      // Everything after IMAGE belongs to the task's command, flags included (docker's behaviour).
      .passThroughOptions(),
  ).action(async (positionals: string[], f: CreateFlags, cmd: Command) => {
    const spec = createSpec(f, positionals);
    const client = clientFor(cmd);
    const res = await client.post<{ ID: string; Warnings?: string[] }>('/services/create', spec);
    printWarnings(res);
    out(`${res.ID}\n`);
    await converge(client, res.ID, f, false);
  });

  addUpdateOptions(service.command('update').description('update a service').argument('<service>', 'service name, ID or ID prefix')).action(
    async (ref: string, f: UpdateFlags, cmd: Command) => {
      const client = clientFor(cmd);
      let id = '';
      await updateWithVersion(
        client,
        () => getService(client, ref),
        async (cur: Service) => {
          id = cur.ID;
          if (f.rollback) {
            await rollbackTo(client, cur);
          } else {
            printWarnings(await client.post(`/services/${cur.ID}/update`, updateSpec(cur.Spec, await withNetworkIds(client, f)), { version: cur.Version.Index }));
          }
        },
      );
      out(`${ref}\n`);
      await converge(client, id, f, true, f.rollback ?? false);
    },
  );

  // docker service rollback: the service's previous spec, with its RollbackConfig.
  service
    .command('rollback')
    .description("revert a service's configuration to its previous spec")
    .argument('<service>', 'service name, ID or ID prefix')
    .option('-d, --detach', 'exit immediately instead of waiting for the rollback to converge')
    .option('-q, --quiet', 'suppress progress output')
    .option('--timeout <duration>', 'how long to wait for convergence without -d', '60s')
    .action(async (ref: string, f: ScalarFlags, cmd: Command) => {
      flagValue('--timeout', f.timeout ?? '60s', parseDuration);
      const client = clientFor(cmd);
      let id = '';
      await updateWithVersion(
        client,
        () => getService(client, ref),
        (cur: Service) => ((id = cur.ID), rollbackTo(client, cur)),
      );
      out(`${ref}\n`);
      await converge(client, id, f, true, true);
    });

  service
    .command('scale')
    .description('scale one or more replicated services')
    .argument('<service=replicas...>', 'e.g. web=5')
    .option('-d, --detach', 'exit immediately instead of waiting for the services to converge')
    .option('--timeout <duration>', 'how long to wait for convergence without -d', '60s')
    .action(async (pairs: string[], f: { detach?: boolean; timeout: string }, cmd: Command) => {
      const wanted = pairs.map((p) => {
        const m = /^(.+)=(.*)$/.exec(p);
        if (!m) throw new CliError(`invalid scale specifier ${JSON.stringify(p)}: use SERVICE=REPLICAS, e.g. web=5`);
        return { ref: m[1]!, n: flagValue(`the replicas of ${m[1]}`, m[2]!, parseReplicas) };
      });
      flagValue('--timeout', f.timeout, parseDuration);
      const client = clientFor(cmd);
      const scaled: string[] = [];
      for (const { ref, n } of wanted) {
        await updateWithVersion(
          client,
          () => client.get<Service>(`/services/${enc(ref)}`),
          async (cur) => {
            const spec = structuredClone(cur.Spec);
            setReplicas(spec.Mode, n, `${ref}: scale`);
            await client.post(`/services/${cur.ID}/update`, spec, { version: cur.Version.Index });
            scaled.push(cur.ID);
          },
        );
        out(`${ref} scaled to ${n}\n`);
      }
      for (const id of scaled) await converge(client, id, f, false);
    });
}
