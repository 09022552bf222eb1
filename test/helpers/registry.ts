/**
 * A real registry for the pull tests: Debian's `docker-registry` (the CNCF
 * distribution registry) on a loopback port, filled with `skopeo` (Debian)
 * from OCI layouts built here from tarballs. Its log says what it served,
 * so a test can count the registry reads of each blob.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, createSign, randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { waitFor } from './wait.js';

/** Why the registry tests cannot run here, or null. */
export function registryUnavailable(): string | null {
  for (const bin of ['docker-registry', 'skopeo']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) return `${bin} is not installed (apt-get install docker-registry skopeo)`;
  }
  return null;
}

export interface RegistryRead {
  method: string;
  uri: string;
  status: number;
  bytes: number;
}

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  addr: string;
  /** Requests the registry completed, from its log. */
  reads(): RegistryRead[];
  /** GETs of one blob that returned it. */
  blobReads(digest: string): number;
  /** Requests its token service answered (0 without token auth). */
  tokenRequests(): number;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts a registry for the test; with `htpasswd`, it asks for HTTP Basic auth. */
/** What startRegistry needs of its caller: somewhere to stop it (a tap test, or a benchmark's list). */
export interface Teardowns {
  teardown(fn: () => void): void;
}

/**
 * A token service for the registry's token auth (what Docker Hub and most
 * registries use): it grants a JWT, signed with a throwaway key whose
 * certificate the registry trusts (x5c), to the right Basic credentials, and
 * 401 to anyone else. Returns its realm URL and the certificate file.
 */
async function startTokenService(t: Teardowns, dir: string, creds: { user: string; password: string }): Promise<{ realm: string; cert: string; asked: string[] }> {
  const keyFile = path.join(dir, 'token-key.pem');
  const cert = path.join(dir, 'token-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', cert, '-days', '2', '-subj', '/CN=shoal-test-token'], { stdio: 'pipe' });
  const key = readFileSync(keyFile, 'utf8');
  const der = new X509Certificate(readFileSync(cert, 'utf8')).raw.toString('base64');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const asked: string[] = [];
  const want = `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    asked.push(u.search);
    if (req.headers.authorization !== want) {
      res.statusCode = 401;
      return res.end('{"details":"bad credentials"}');
    }
    const [, name, actions] = (u.searchParams.get('scope') ?? '').split(':');
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [der] });
    const body = b64({ iss: 'shoal-test', sub: creds.user, aud: 'shoal-registry', exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access: name ? [{ type: 'repository', name, actions: (actions ?? '').split(',') }] : [] });
    const sig = createSign('RSA-SHA256').update(`${head}.${body}`).sign(key).toString('base64url');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: `${head}.${body}.${sig}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  return { realm: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`, cert, asked };
}

export async function startRegistry(t: Teardowns, opts: { htpasswd?: { user: string; password: string }; token?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  // Its own dir, not t.testdir(): a test's own testdir() call would empty it under the running registry.
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort('127.0.0.1');
  const addr = `127.0.0.1:${port}`;
  let auth = '';
  if (opts.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, execFileSync('htpasswd', ['-Bbn', opts.htpasswd.user, opts.htpasswd.password], { encoding: 'utf8' }));
    auth = `auth:\n  htpasswd:\n    realm: shoal-test\n    path: ${file}\n`;
  }
  let tokens: string[] = [];
  if (opts.token) {
    const ts = await startTokenService(t, dir, opts.token);
    tokens = ts.asked;
    auth = `auth:\n  token:\n    realm: ${ts.realm}\n    service: shoal-registry\n    issuer: shoal-test\n    rootcertbundle: ${ts.cert}\n`;
  }
  writeFileSync(
    path.join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(dir, 'data')}\nhttp:\n  addr: ${addr}\n${auth}`,
  );
  const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  t.teardown(() => void proc.kill('SIGKILL'));
  await waitFor(
    async () => {
      const r = await fetch(`http://${addr}/v2/`).catch(() => null);
      return r && (r.status === 200 || r.status === 401) ? true : undefined;
    },
    { timeoutMs: 15_000, what: `docker-registry on ${addr} (log: ${log.slice(-500)})` },
  );
  const reads = (): RegistryRead[] =>
    [...log.matchAll(/msg="response completed".*?http\.request\.method=(\w+).*?http\.request\.uri="?([^" ]+)"?.*?http\.response\.status=(\d+)(?:.*?http\.response\.written=(\d+))?/g)].map((m) => ({
      method: m[1]!,
      uri: m[2]!,
      status: Number(m[3]),
      bytes: Number(m[4] ?? 0),
    }));
  return {
    addr,
    reads,
    tokenRequests: () => tokens.length,
    blobReads: (digest) => reads().filter((r) => r.method === 'GET' && r.status === 200 && r.uri.endsWith(`/blobs/${digest}`)).length,
  };
}

export interface ImageParts {
  /** Layer tarballs (uncompressed), applied in order; pushed gzipped. */
  layers: string[];
  config?: { Cmd?: string[]; Entrypoint?: string[]; Env?: string[]; WorkingDir?: string };
  platform?: { os: string; architecture: string };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes a blob into the layout; its descriptor. */
function put(layout: string, mediaType: string, bytes: Buffer): { mediaType: string; digest: string; size: number } {
  const hex = sha(bytes);
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(layout, 'blobs', 'sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

/**
 * An OCI image layout holding one image (one manifest) or, given several,
 * a multi-platform index; tagged `tag`. Returns the digests a test checks.
 */
export function buildLayout(layout: string, tag: string, images: ImageParts[]): { manifests: string[]; layers: string[][]; index?: string } {
  const out: { manifests: string[]; layers: string[][]; index?: string } = { manifests: [], layers: [] };
  const descs = images.map((img) => {
    const raw = img.layers.map((f) => readFileSync(f));
    const layerDescs = raw.map((b) => put(layout, 'application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(b)));
    const platform = img.platform ?? { os: 'linux', architecture: 'amd64' };
    const config = put(
      layout,
      'application/vnd.oci.image.config.v1+json',
      Buffer.from(JSON.stringify({ ...platform, config: img.config ?? { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: raw.map((b) => `sha256:${sha(b)}`) } })),
    );
    const manifest = put(layout, 'application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layerDescs })));
    out.manifests.push(manifest.digest);
    out.layers.push(layerDescs.map((d) => d.digest));
    return { ...manifest, platform };
  });
  let top: { mediaType: string; digest: string; size: number };
  if (descs.length === 1) top = descs[0]!;
  else {
    top = put(layout, 'application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descs })));
    out.index = top.digest;
  }
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return out;
}

/** Pushes a layout's tag to the registry with skopeo (every platform of an index). */
export function push(layout: string, tag: string, dest: string, creds?: { user: string; password: string }): Promise<void> {
  // Asynchronous: a token service in this process must be able to answer skopeo meanwhile.
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['copy', '--all', '--preserve-digests', '--dest-tls-verify=false', ...(creds ? ['--dest-creds', `${creds.user}:${creds.password}`] : []), `oci:${layout}:${tag}`, `docker://${dest}`], (err, _out, errOut) =>
      err ? reject(new Error(`skopeo copy to ${dest}: ${String(errOut).trim() || err.message}`)) : resolve(),
    );
  });
}

/** A tarball of the given files (name → content), deterministic. */
export function tarOf(dir: string, name: string, files: Record<string, string>): string {
  const root = path.join(dir, `${name}.d`);
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), content);
  }
  const tar = path.join(dir, `${name}.tar`);
  execFileSync('tar', ['-C', root, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tar, '.']);
  return tar;
}
