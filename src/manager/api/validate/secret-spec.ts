/**
 * Validation of SecretSpec / ConfigSpec bodies and of the Secrets / Configs
 * references in a ContainerSpec, with SwarmKit's rules: names of at most 64
 * characters matching `[a-zA-Z0-9]([a-zA-Z0-9-_.]*[a-zA-Z0-9])?`, data of 1
 * byte to 500 KiB (base64 in the API), no external drivers or templating.
 */
import { absent, describe, fail, obj, optArray, optInt, optObj, optString, optStringMap, type Obj } from './check.js';

export type SecretKind = 'secret' | 'config';

/** SwarmKit's MaxSecretSize; Shoal uses it for configs too (Docker allows 1000 KB there, beyond the API's 1 MiB body once base64). */
export const MAX_SECRET_BYTES = 500 * 1024;
const MAX_NAME = 64;
/** The largest uid/gid a file can have (2^32 - 2: -1 means "unchanged" to chown). */
const MAX_ID = 0xfffffffe;
const NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;
/** Go's StdEncoding is strict: the alphabet, padded to a multiple of 4. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface ValidSecretSpec {
  Name: string;
  Labels: Record<string, string>;
  /** Decoded; undefined when the body had no Data (only allowed on update). */
  data: Buffer | undefined;
}

export function validateSecretName(name: string, field: string): void {
  if (name.length > MAX_NAME) fail(field, `${describe(name)} is too long (maximum is ${MAX_NAME} characters)`);
  if (!NAME.test(name)) fail(field, `${describe(name)} is invalid: a name is letters, digits and "-_." and starts and ends with a letter or digit`);
}

/** Checks a SecretSpec / ConfigSpec body. `requireData`: creation needs data, an update may omit it. */
export function validateSecretSpec(kind: SecretKind, raw: unknown, requireData: boolean): ValidSecretSpec {
  if (absent(raw)) fail('Spec', `request body must be a ${kind === 'secret' ? 'SecretSpec' : 'ConfigSpec'} object`);
  const spec = obj(raw, 'Spec');
  const name = optString(spec.Name, 'Spec.Name') ?? '';
  if (name === '') fail('Spec.Name', `a ${kind} needs a name`);
  validateSecretName(name, 'Spec.Name');
  const labels = optStringMap(spec.Labels, 'Spec.Labels') ?? {};
  // External secret stores and templated data are Docker plugins' business: refused, not ignored.
  if (kind === 'secret' && !absent(spec.Driver)) fail('Spec.Driver', 'secret drivers are not supported by Shoal: leave Driver unset (the data is stored, sealed, in the cluster)');
  if (!absent(spec.Templating)) fail('Spec.Templating', `templated ${kind}s are not supported by Shoal: leave Templating unset`);
  const b64 = optString(spec.Data, 'Spec.Data');
  if (b64 === undefined) {
    if (requireData) fail('Spec.Data', `${kind} data must be provided (base64)`);
    return { Name: name, Labels: labels, data: undefined };
  }
  if (!BASE64.test(b64)) fail('Spec.Data', 'must be base64 (standard alphabet, padded)');
  const data = Buffer.from(b64, 'base64');
  if (data.length < 1 || data.length > MAX_SECRET_BYTES) fail('Spec.Data', `${kind} data must be larger than 0 and at most ${MAX_SECRET_BYTES} bytes (500 KiB), not ${data.length}`);
  return { Name: name, Labels: labels, data };
}

/**
 * A ContainerSpec's Secrets or Configs: each names its object (ID, or name
 * alone, resolved by the route), and a file target no other reference of the
 * task uses. File is optional for configs (Docker: a config may be a runtime
 * value only); Shoal needs it for both, defaulting to the object's name.
 */
export function validateRefs(kind: SecretKind, raw: unknown, field: string): Obj[] | undefined {
  const list = optArray(raw, field);
  if (!list) return undefined;
  const idKey = kind === 'secret' ? 'SecretID' : 'ConfigID';
  const nameKey = kind === 'secret' ? 'SecretName' : 'ConfigName';
  const targets = new Set<string>();
  return list.map((x, i) => {
    const f = `${field}[${i}]`;
    const r = { ...obj(x, f) };
    const id = optString(r[idKey], `${f}.${idKey}`) ?? '';
    const name = optString(r[nameKey], `${f}.${nameKey}`) ?? '';
    if (id === '' && name === '') fail(f, `must name the ${kind} (${idKey} or ${nameKey})`);
    if (!absent(r.Runtime)) fail(`${f}.Runtime`, `runtime-only ${kind} references are not supported: give a File`);
    const file = optObj(r.File, `${f}.File`);
    const target = optString(file?.Name, `${f}.File.Name`) ?? '';
    if (file) {
      if (target.split('/').some((p) => p === '..')) fail(`${f}.File.Name`, `${describe(target)} must not contain ".."`);
      // The target is a file: a path of non-empty names (it lands in the task's tmpfs, then at /run/secrets/… or /… in a container).
      if (target !== '' && (target.replace(/^\/+/, '') === '' || target.endsWith('/') || target.split('/').slice(1).some((p) => p === '' || p === '.') || target.split('/')[0] === '.' || target.includes('\0'))) {
        fail(`${f}.File.Name`, `${describe(target)} is not a file path (no empty or "." parts, no trailing "/")`);
      }
      for (const k of ['UID', 'GID'] as const) {
        const v = optString(file[k], `${f}.File.${k}`);
        if (v !== undefined && v !== '' && !/^\d{1,10}$/.test(v)) fail(`${f}.File.${k}`, `must be a numeric ID, not ${describe(v)}`);
        if (v !== undefined && Number(v) > MAX_ID) fail(`${f}.File.${k}`, `${v} is out of range (at most ${MAX_ID})`);
      }
      optInt(file.Mode, `${f}.File.Mode`, 0, 0o7777);
    }
    const key = target || name || id;
    if (targets.has(key)) fail(`${f}.File.Name`, `${describe(key)} is the target of more than one ${kind}`);
    // A file cannot also be a directory holding another reference's file.
    for (const other of targets) {
      if (key.startsWith(other + '/') || other.startsWith(key + '/')) fail(`${f}.File.Name`, `${describe(key)} and ${describe(other)}: one target is inside the other`);
    }
    targets.add(key);
    return r;
  });
}

/**
 * Where a reference's file appears in a container — the agent's rule
 * (worker/agent/secret-files.ts): an absolute File.Name as it is, else a
 * secret under /run/secrets/ and a config under /.
 */
export function containerPathOf(kind: SecretKind, r: Obj): string {
  const file = r.File as Obj | undefined;
  const idKey = kind === 'secret' ? 'SecretID' : 'ConfigID';
  const nameKey = kind === 'secret' ? 'SecretName' : 'ConfigName';
  const t = String((file?.Name as string | undefined) || r[nameKey] || r[idKey] || '');
  return t.startsWith('/') ? t : kind === 'secret' ? `/run/secrets/${t}` : `/${t}`;
}

/** A secret and a config may not land on one path, nor one inside the other (two read-only binds would fight over it). */
export function checkRefsApart(secrets: Obj[] | undefined, configs: Obj[] | undefined, field: string): void {
  if (!secrets?.length || !configs?.length) return;
  const taken = secrets.map((r) => containerPathOf('secret', r));
  configs.forEach((r, i) => {
    const p = containerPathOf('config', r);
    const clash = taken.find((q) => q === p || q.startsWith(p + '/') || p.startsWith(q + '/'));
    if (clash) fail(`${field}.Configs[${i}].File.Name`, `the config would appear at ${JSON.stringify(p)}, where a secret appears at ${JSON.stringify(clash)}`);
  });
}
