/**
 * `--secret` and `--config` of `service create`, in docker's syntax:
 * `NAME` or `source=NAME,target=FILE,uid=0,gid=0,mode=0400` (mode in octal).
 * The API resolves the name to the object's ID.
 */
import type { ConfigReference, SecretReference } from '../../model/index.js';
import { CliError } from '../errors.js';

interface Ref {
  name: string;
  file: { Name: string; UID: string; GID: string; Mode: number };
}

function parseRef(flag: string, s: string): Ref {
  const fields = s.includes('=') ? s.split(',').map((f) => f.trim()).filter(Boolean) : [`source=${s.trim()}`];
  let name = '';
  let target = '';
  let uid = '0';
  let gid = '0';
  let mode = 0o444;
  for (const f of fields) {
    const i = f.indexOf('=');
    const k = (i < 0 ? f : f.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? '' : f.slice(i + 1).trim();
    if (k === 'source' || k === 'src') name = v;
    else if (k === 'target') target = v;
    else if (k === 'uid' || k === 'gid') {
      if (!/^\d+$/.test(v)) throw new CliError(`${flag} ${JSON.stringify(s)}: ${k} must be a number, not ${JSON.stringify(v)}`);
      if (k === 'uid') uid = v;
      else gid = v;
    } else if (k === 'mode') {
      if (!/^[0-7]{1,4}$/.test(v)) throw new CliError(`${flag} ${JSON.stringify(s)}: mode must be octal, e.g. 0400, not ${JSON.stringify(v)}`);
      mode = parseInt(v, 8);
    } else throw new CliError(`${flag} ${JSON.stringify(s)}: unknown option ${JSON.stringify(k)} (source, target, uid, gid, mode)`);
  }
  if (name === '') throw new CliError(`${flag} ${JSON.stringify(s)} names no ${flag.slice(2)}: use source=NAME`);
  return { name, file: { Name: target || name, UID: uid, GID: gid, Mode: mode } };
}

export function parseSecretRef(s: string): SecretReference {
  const r = parseRef('--secret', s);
  return { SecretID: '', SecretName: r.name, File: r.file };
}

export function parseConfigRef(s: string): ConfigReference {
  const r = parseRef('--config', s);
  return { ConfigID: '', ConfigName: r.name, File: r.file };
}
