/**
 * model/runtime-support.ts: which ContainerSpec fields each runtime would
 * drop; the API refuses them with a 400 naming the field (no runtime honours
 * it, or the service names a runtime that does not), and the docker CLI's
 * everyday defaults (ReadOnly false, DNSConfig {}) ask for nothing.
 */
import t from 'tap';
import { unsupportedAnywhere, unsupportedBy, type ContainerSpec } from '../../src/model/index.js';
import { spec, startApi } from '../api/helpers.js';

t.test('what asks for something, and which runtime would drop it', async (t) => {
  const quiet: ContainerSpec = { Image: 'busybox', ReadOnly: false, TTY: false, OpenStdin: false, Init: false, DNSConfig: {}, Hosts: [], Sysctls: {}, Mounts: [{ Type: 'volume', Target: '/d', VolumeOptions: {} }] };
  t.same(unsupportedAnywhere(quiet), [], "the docker CLI's defaults ask for nothing");
  t.same(unsupportedBy(quiet, 'oci'), []);
  t.same(unsupportedBy(quiet, 'process'), ['Mounts'], 'a process task cannot mount');
  t.same(unsupportedAnywhere({ Image: 'x', ReadOnly: true, CapabilityAdd: ['NET_ADMIN'], DNSConfig: { Nameservers: ['10.0.0.2'] } }), ['ReadOnly', 'DNSConfig', 'CapabilityAdd']);
  t.same(unsupportedAnywhere({ Image: 'x', Mounts: [{ Type: 'npipe', Target: '/p' }, { Type: 'bind', Source: '/a', Target: '/b', BindOptions: { Propagation: 'rshared' } }] }), ['Mounts[0].Type', 'Mounts[1].BindOptions.Propagation']);
  t.same(unsupportedBy({ Image: 'x', Init: true, Hostname: 'h' }, 'oci'), [], 'oci: tini is always PID 1, and the bundle sets the hostname');
  t.same(unsupportedBy({ Image: 'x', Init: true, Hostname: 'h' }, 'docker'), ['Init']);
  t.same(unsupportedBy({ Image: 'x', Init: true, Hostname: 'h' }, 'process'), ['Init', 'Hostname']);
});

t.test('the API refuses a field that would be dropped, naming it', async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  const withC = (name: string, c: Record<string, unknown>, runtime?: string) => {
    const s = spec(name) as { TaskTemplate: Record<string, unknown> };
    return { ...s, TaskTemplate: { ...s.TaskTemplate, ContainerSpec: { Image: 'busybox', ...c }, ...(runtime ? { Runtime: runtime } : {}) } };
  };
  let r = await api.req('POST', '/services/create', withC('ro', { ReadOnly: true }));
  t.equal(r.status, 400);
  t.match(r.body.message, /Spec\.TaskTemplate\.ContainerSpec\.ReadOnly.*not supported by any Shoal runtime/);
  r = await api.req('POST', '/services/create', withC('caps', { CapabilityDrop: ['ALL'] }));
  t.match(r.body.message, /ContainerSpec\.CapabilityDrop/);
  r = await api.req('POST', '/services/create', withC('m', { Mounts: [{ Type: 'tmpfs', Target: '/t' }] }, 'process'));
  t.equal(r.status, 400);
  t.match(r.body.message, /ContainerSpec\.Mounts.*not supported by the process runtime/);
  r = await api.req('POST', '/services/create', withC('m', { Mounts: [{ Type: 'tmpfs', Target: '/t' }] }, 'oci'));
  t.equal(r.status, 201, 'the same mount on oci is fine');
  r = await api.req('POST', '/services/create', withC('d', { ReadOnly: false, DNSConfig: {}, TTY: false }));
  t.equal(r.status, 201, 'defaults that ask for nothing are accepted');
});
