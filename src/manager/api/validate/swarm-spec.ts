/**
 * A SwarmSpec as `docker swarm update` / `docker swarm join-token --rotate`
 * send it (the whole spec, read back from GET /swarm and edited). Fields
 * Shoal does not act on are kept as sent.
 */
import { MIN_HEARTBEAT_PERIOD_NS, type SwarmSpec } from '../../../model/index.js';
import { absent, fail, obj, optBool, optInt, optObj, optString, optStringMap } from './check.js';

export function validateSwarmSpec(raw: unknown): SwarmSpec {
  if (absent(raw)) fail('Spec', 'request body must be a SwarmSpec object');
  const s = { ...obj(raw, 'Spec') };
  s.Name = optString(s.Name, 'Spec.Name') || 'default';
  s.Labels = optStringMap(s.Labels, 'Spec.Labels') ?? {};
  const o = optObj(s.Orchestration, 'Spec.Orchestration');
  if (o) optInt(o.TaskHistoryRetentionLimit, 'Spec.Orchestration.TaskHistoryRetentionLimit', 0);
  const r = optObj(s.Raft, 'Spec.Raft');
  if (r) for (const k of ['SnapshotInterval', 'KeepOldSnapshots', 'LogEntriesForSlowFollowers', 'ElectionTick', 'HeartbeatTick']) optInt(r[k], `Spec.Raft.${k}`, 0);
  const d = optObj(s.Dispatcher, 'Spec.Dispatcher');
  // The period agents heartbeat at, and AGENT_GRACE_PERIODS of them are how long a node whose
  // daemon is gone keeps its tasks (manager/heartbeat-period.ts); 0 means the default.
  const hb = d ? optInt(d.HeartbeatPeriod, 'Spec.Dispatcher.HeartbeatPeriod', 0) : undefined;
  if (hb !== undefined && hb > 0 && hb < MIN_HEARTBEAT_PERIOD_NS) fail('Spec.Dispatcher.HeartbeatPeriod', `must be at least ${MIN_HEARTBEAT_PERIOD_NS / 1e6}ms (${MIN_HEARTBEAT_PERIOD_NS} ns), got ${hb} ns`);
  const ca = optObj(s.CAConfig, 'Spec.CAConfig');
  if (ca) {
    optInt(ca.NodeCertExpiry, 'Spec.CAConfig.NodeCertExpiry', 0);
    // Raising ForceRotate starts a root CA rotation (routes/swarm.ts); external CAs and a given root are not supported.
    optInt(ca.ForceRotate, 'Spec.CAConfig.ForceRotate', 0);
    for (const k of ['ExternalCAs', 'SigningCACert', 'SigningCAKey']) {
      const v = ca[k];
      if (v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0)) fail(`Spec.CAConfig.${k}`, 'Shoal makes its own root CA; an external or given CA is not supported');
    }
  }
  const enc = optObj(s.EncryptionConfig, 'Spec.EncryptionConfig');
  // Autolock locks the managers' Raft logs behind an unlock key. Shoal's logs are
  // not encrypted, so `AutoLockManagers: true` is a 400 naming the field: accepting
  // it would tell the operator their managers are locked when they are not.
  if (enc && optBool(enc.AutoLockManagers, 'Spec.EncryptionConfig.AutoLockManagers')) {
    fail('Spec.EncryptionConfig.AutoLockManagers', 'autolock is not supported by Shoal');
  }
  const td = optObj(s.TaskDefaults, 'Spec.TaskDefaults');
  const ld = td && optObj(td.LogDriver, 'Spec.TaskDefaults.LogDriver');
  if (ld) {
    optString(ld.Name, 'Spec.TaskDefaults.LogDriver.Name');
    optStringMap(ld.Options, 'Spec.TaskDefaults.LogDriver.Options');
  }
  for (const k of Object.keys(s)) if (s[k] === null) delete s[k];
  return s as unknown as SwarmSpec;
}
