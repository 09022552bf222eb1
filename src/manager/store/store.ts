import { Packr, Unpackr } from '../../util/msgpack.js';
import type { StateMachine } from '../../raft/driver.js';
import { decodeTxn, KINDS, type AnyObject, type Change, type Kind, type ObjectOf, type StoreOp, type Txn, type TxnResult } from './commands.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { stateRank, type Config, type Network, type Secret, type Service, type Task } from '../../model/index.js';
import { packSlices, unpackSlices } from '../../util/sliced-pack.js';
import { AddrIndex } from './addr-index.js';
import { NetAlloc, type AllocStage } from './network-alloc.js';

/** Kinds whose Spec.Name must be unique (Docker refuses duplicates with 409). */
const NAMED: ReadonlySet<Kind> = new Set<Kind>(['service', 'network', 'secret', 'config']);

type Tables = { [K in Kind]: Map<string, ObjectOf[K]> };

const snapPackr = new Packr({ useRecords: true });
const snapUnpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false });

/**
 * Called with each applied transaction's changes and Raft index, and its
 * proposer's time (RFC 3339). A snapshot restore calls it with a full
 * re-listing and no time: that is a new starting point, not a transaction.
 */
export type Watcher = (changes: Change[], index: number, time?: string) => void;

/**
 * The desired state, as the Raft state machine. Every manager applies the
 * same transactions in the same order; reads are served from memory (local,
 * or linearizable after a ReadIndex barrier). Stored objects are immutable:
 * a change replaces the object, so readers may keep references.
 */
export class Store implements StateMachine {
  private tables: Tables = emptyTables();
  /** name → id, per named kind. */
  private names = new Map<Kind, Map<string, string>>();
  private tasksByService = new Map<string, Set<string>>();
  private tasksByNode = new Map<string, Set<string>>();
  private kv = new Map<string, string>();
  /** Who holds which overlay address: derived from the objects as they commit (and on restore). */
  private addrs = new AddrIndex();
  private readonly watchers = new Set<Watcher>();
  /** Raft index of the last applied entry. */
  index = 0;

  // ------------------------------------------------------------- reads

  get<K extends Kind>(kind: K, id: string): ObjectOf[K] | undefined {
    return this.tables[kind].get(id) as ObjectOf[K] | undefined;
  }

  list<K extends Kind>(kind: K): ObjectOf[K][] {
    return [...this.tables[kind].values()] as ObjectOf[K][];
  }

  count(kind: Kind): number {
    return this.tables[kind].size;
  }

  /** By exact ID, exact name, or unique ID prefix — how Docker resolves `/services/{id}`. */
  find<K extends Kind>(kind: K, ref: string): ObjectOf[K] | undefined {
    const byId = this.get(kind, ref);
    if (byId) return byId;
    const id = this.names.get(kind)?.get(ref);
    if (id) return this.get(kind, id);
    if (kind === 'node') {
      const byHost = this.list('node').filter((n) => n.Description?.Hostname === ref || n.Spec.Name === ref);
      if (byHost.length === 1) return byHost[0] as ObjectOf[K];
    }
    let found: ObjectOf[K] | undefined;
    for (const [k, v] of this.tables[kind]) {
      if (k.startsWith(ref)) {
        if (found) return undefined; // ambiguous prefix
        found = v as ObjectOf[K];
      }
    }
    return found;
  }

  tasksOfService(serviceId: string): Task[] {
    return [...(this.tasksByService.get(serviceId) ?? [])].map((id) => this.tables.task.get(id)!);
  }

  tasksOnNode(nodeId: string): Task[] {
    return [...(this.tasksByNode.get(nodeId) ?? [])].map((id) => this.tables.task.get(id)!);
  }

  kvGet(key: string): string | null {
    return this.kv.get(key) ?? null;
  }

  /** The holder of an overlay address ("task/ID", "vip/ID", "node/ID"), if any. */
  addrOwner(networkId: string, ip: number): string | undefined {
    return this.addrs.owner(networkId, ip);
  }

  /** Called after every applied transaction that changed something. */
  watch(fn: Watcher): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  // ------------------------------------------------------------- apply

  apply(entry: { index: number; term: number; command: Uint8Array }): TxnResult {
    this.index = entry.index;
    let txn: Txn;
    try {
      txn = decodeTxn(entry.command);
      if (!txn || typeof txn.time !== 'string' || !Array.isArray(txn.ops)) throw new Error('not a transaction');
    } catch (err) {
      return { ok: false, index: entry.index, code: StoreErrorCode.INVALID, message: `undecodable transaction: ${(err as Error).message}` };
    }
    const stage = new Stage(this);
    const alloc = new NetAlloc(stage, entry.index, txn.time);
    const kv: (string | null)[] = [];
    try {
      for (const op of txn.ops) this.stageOp(stage, alloc, op, entry.index, txn.time, kv);
    } catch (err) {
      if (err instanceof StoreError) {
        return { ok: false, index: entry.index, code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
      }
      // A bug in a proposer: reject deterministically rather than diverge or crash.
      return { ok: false, index: entry.index, code: StoreErrorCode.INVALID, message: `bad operation: ${(err as Error).message}` };
    }
    const changes = stage.commit();
    if (changes.length > 0) for (const w of this.watchers) w(changes, entry.index, txn.time);
    return { ok: true, index: entry.index, changes, ...(kv.length > 0 ? { kv } : {}) };
  }

  private stageOp(stage: Stage, alloc: NetAlloc, op: StoreOp, index: number, time: string, kv: (string | null)[]): void {
    switch (op.op) {
      case 'create': {
        const o = op.object as AnyObject;
        if (!o || typeof o.ID !== 'string' || o.ID === '') throw new StoreError(StoreErrorCode.INVALID, 'object needs an ID', 'ID');
        if (stage.get(op.kind, o.ID)) throw new StoreError(StoreErrorCode.NAME_CONFLICT, `${op.kind} ${o.ID} already exists`);
        this.checkName(stage, op.kind, o, null);
        if (op.kind === 'service') checkSecretRefs(stage, o as Service);
        stage.put(op.kind, alloc.prepare(op.kind, { ...o, Version: { Index: index }, CreatedAt: time, UpdatedAt: time } as AnyObject, undefined), 'create');
        // Every cluster has its routing-mesh network from the start (GET /networks shows it).
        if (op.kind === 'cluster') alloc.ensureIngress();
        return;
      }
      case 'update': {
        const o = op.object as AnyObject;
        const cur = stage.get(op.kind, o?.ID);
        if (!cur) throw new StoreError(StoreErrorCode.NOT_FOUND, `${op.kind} ${o?.ID} not found`);
        if (op.expect !== undefined && op.expect !== cur.Version.Index) {
          throw new StoreError(
            StoreErrorCode.VERSION_CONFLICT,
            `update out of sequence: ${op.kind} ${cur.ID} is at version ${cur.Version.Index}, not ${op.expect}`,
            'version',
          );
        }
        this.checkName(stage, op.kind, o, cur);
        if (op.kind === 'service') checkSecretRefs(stage, o as Service);
        stage.put(op.kind, alloc.prepare(op.kind, { ...o, Version: { Index: index }, CreatedAt: cur.CreatedAt, UpdatedAt: time } as AnyObject, cur), 'update');
        return;
      }
      case 'delete': {
        const cur = stage.get(op.kind, op.id);
        if (!cur && op.ifExists) return;
        if (!cur) throw new StoreError(StoreErrorCode.NOT_FOUND, `${op.kind} ${op.id} not found`);
        if (op.expect !== undefined && op.expect !== cur.Version.Index) {
          throw new StoreError(StoreErrorCode.VERSION_CONFLICT, `${op.kind} ${cur.ID} is at version ${cur.Version.Index}, not ${op.expect}`, 'version');
        }
        if (op.kind === 'secret' || op.kind === 'config') checkUnused(stage, op.kind, cur as Secret | Config);
        if (op.kind === 'network') alloc.networkDeleted(cur as Network);
        stage.remove(op.kind, op.id);
        return;
      }
      case 'patchTask': {
        const cur = stage.get('task', op.id) as Task | undefined;
        // A report about a task already reaped is normal (late agent report).
        if (!cur) return;
        let next: Task = cur;
        // Same state is allowed (a new message, e.g. why a task is still
        // pending); going back never is.
        if (op.status && stateRank(op.status.State) >= stateRank(cur.Status.State)) next = { ...next, Status: op.status };
        if (op.desiredState && stateRank(op.desiredState) > stateRank(cur.DesiredState)) next = { ...next, DesiredState: op.desiredState };
        if (op.nodeId !== undefined && cur.NodeID === '' && op.nodeId !== '') {
          next = { ...next, NodeID: op.nodeId };
          // Placed: the node joins the task's networks (it forwards for them from now on).
          alloc.placed(next);
        }
        if (op.orchestration) next = { ...next, Orchestration: { ...(next.Orchestration ?? { Reason: 'create', CreatedMs: 0 }), ...op.orchestration } };
        // A process task's host ports: allocated when it is placed, kept over every status report.
        if (next !== cur) next = alloc.patchedTask(next, cur);
        if (next !== cur) stage.put('task', { ...next, Version: { Index: index }, UpdatedAt: time }, 'update');
        return;
      }
      case 'patchService': {
        const cur = stage.get('service', op.id) as Service | undefined;
        if (!cur || cur.Version.Index !== op.ifVersion) return;
        let next: Service = { ...cur };
        if (op.updateStatus) next.UpdateStatus = op.updateStatus;
        if (op.spec) next.Spec = op.spec;
        if (op.previousSpec === null) delete next.PreviousSpec;
        else if (op.previousSpec) next.PreviousSpec = op.previousSpec;
        next = { ...next, Version: { Index: index }, UpdatedAt: time };
        stage.put('service', op.spec ? alloc.prepare('service', next, cur) : next, 'update');
        return;
      }
      case 'kvPut':
        stage.kv(op.key, op.value);
        kv.push(op.value);
        return;
      case 'kvAppend': {
        const v = (stage.kvGet(op.key) ?? '') + op.value;
        stage.kv(op.key, v);
        kv.push(v);
        return;
      }
      case 'kvCas': {
        const v = stage.kvGet(op.key);
        if (v !== op.from) throw new StoreError(StoreErrorCode.CAS_MISMATCH, `key ${op.key} holds ${JSON.stringify(v)}, not ${JSON.stringify(op.from)}`);
        stage.kv(op.key, op.to);
        kv.push(op.to);
        return;
      }
      default:
        throw new StoreError(StoreErrorCode.INVALID, `unknown operation ${(op as { op?: unknown }).op}`);
    }
  }

  private checkName(stage: Stage, kind: Kind, o: AnyObject, cur: AnyObject | null): void {
    if (!NAMED.has(kind)) return;
    const name = (o as { Spec?: { Name?: unknown } }).Spec?.Name;
    if (typeof name !== 'string' || name === '') throw new StoreError(StoreErrorCode.INVALID, `${kind} needs a name`, 'Spec.Name');
    if (cur && (cur as { Spec: { Name: string } }).Spec.Name === name) return;
    const owner = stage.nameOwner(kind, name);
    if (owner !== undefined && owner !== o.ID) throw new StoreError(StoreErrorCode.NAME_CONFLICT, `${kind} with name ${name} already exists`, 'Spec.Name');
  }

  // ------------------------------------------------- used by Stage.commit

  /** @internal */
  commitObject(kind: Kind, id: string, next: AnyObject | null): AnyObject | undefined {
    const prev = this.tables[kind].get(id) as AnyObject | undefined;
    if (NAMED.has(kind)) {
      const names = this.nameIndex(kind);
      if (prev) names.delete((prev as { Spec: { Name: string } }).Spec.Name);
      if (next) names.set((next as { Spec: { Name: string } }).Spec.Name, id);
    }
    if (kind === 'task') {
      if (prev) this.unindexTask(prev as Task);
      if (next) this.indexTask(next as Task);
    }
    if (prev) this.addrs.remove(kind, prev);
    if (next) this.addrs.add(kind, next);
    if (next) (this.tables[kind] as Map<string, AnyObject>).set(id, next);
    else this.tables[kind].delete(id);
    return prev;
  }

  /** @internal */
  commitKv(key: string, value: string): void {
    this.kv.set(key, value);
  }

  /** @internal */
  nameIndex(kind: Kind): Map<string, string> {
    let m = this.names.get(kind);
    if (!m) this.names.set(kind, (m = new Map()));
    return m;
  }

  private indexTask(t: Task): void {
    add(this.tasksByService, t.ServiceID, t.ID);
    if (t.NodeID) add(this.tasksByNode, t.NodeID, t.ID);
  }

  private unindexTask(t: Task): void {
    this.tasksByService.get(t.ServiceID)?.delete(t.ID);
    if (t.NodeID) this.tasksByNode.get(t.NodeID)?.delete(t.ID);
  }

  // ------------------------------------------------------- snapshots

  /**
   * Captures every table now (objects are immutable, so references do) and
   * encodes them in slices across event-loop turns: a large cluster's store
   * never stalls the manager while Raft compacts.
   */
  async snapshot(): Promise<Uint8Array> {
    const index = this.index;
    const captured = KINDS.map((k) => [k, [...this.tables[k].values()] as AnyObject[]] as const);
    const kv = [...this.kv];
    const tables: Record<string, Uint8Array[]> = {};
    for (const [k, objects] of captured) tables[k] = await packSlices(objects);
    return snapPackr.pack({ v: 2, index, tables, kv: await packSlices(kv) });
  }

  restore(data: Uint8Array): void {
    const s = snapUnpackr.unpack(data) as { v: number; index: number; tables: Record<string, Uint8Array[]>; kv: Uint8Array[] };
    this.tables = emptyTables();
    this.names = new Map();
    this.tasksByService = new Map();
    this.tasksByNode = new Map();
    this.addrs = new AddrIndex();
    for (const k of KINDS) for (const o of unpackSlices<AnyObject>(s.tables[k] ?? [])) this.commitObject(k, o.ID, o);
    this.kv = new Map(unpackSlices<[string, string]>(s.kv));
    this.index = s.index;
    // Watchers learn of a restore as a full re-listing.
    const changes: Change[] = [];
    for (const k of KINDS) for (const o of this.tables[k].values()) changes.push({ kind: k, action: 'update', id: (o as AnyObject).ID, object: o as AnyObject });
    for (const w of this.watchers) w(changes, this.index);
  }
}

/**
 * A transaction's staged changes over the committed store: reads see the
 * staged version first, and nothing touches the store until every
 * operation has passed (all or nothing).
 */
class Stage implements AllocStage {
  private readonly objects = new Map<string, { kind: Kind; id: string; next: AnyObject | null; action: Change['action'] }>();
  private readonly kvs = new Map<string, string>();
  /** Addresses allocated in this transaction ("net/ip"). One released in it is not reused before commit: simpler, and still deterministic. */
  private readonly claims = new Set<string>();

  constructor(private readonly store: Store) {}

  get(kind: Kind, id: string): AnyObject | undefined {
    const s = this.objects.get(`${kind}/${id}`);
    if (s) return s.next ?? undefined;
    return this.store.get(kind, id);
  }

  put(kind: Kind, o: AnyObject, action: 'create' | 'update'): void {
    const key = `${kind}/${o.ID}`;
    const prior = this.objects.get(key);
    this.objects.set(key, { kind, id: o.ID, next: o, action: prior?.action === 'create' ? 'create' : action });
  }

  remove(kind: Kind, id: string): void {
    this.objects.set(`${kind}/${id}`, { kind, id, next: null, action: 'delete' });
  }

  /** Every service as this transaction sees it (staged versions first). */
  services(): Service[] {
    return this.list('service');
  }

  list<K extends Kind>(kind: K): ObjectOf[K][] {
    const out = new Map<string, ObjectOf[K]>();
    for (const o of this.store.list(kind)) out.set(o.ID, o);
    for (const st of this.objects.values()) {
      if (st.kind !== kind) continue;
      if (st.next) out.set(st.id, st.next as ObjectOf[K]);
      else out.delete(st.id);
    }
    return [...out.values()];
  }

  addrUsed(net: string, ip: number): boolean {
    return this.claims.has(`${net}/${ip}`) || this.store.addrOwner(net, ip) !== undefined;
  }

  claim(net: string, ip: number): void {
    this.claims.add(`${net}/${ip}`);
  }

  nameOwner(kind: Kind, name: string): string | undefined {
    for (const s of this.objects.values()) {
      if (s.kind === kind && s.next && (s.next as { Spec: { Name: string } }).Spec.Name === name) return s.id;
    }
    const id = this.store.nameIndex(kind).get(name);
    // The committed owner may be renamed or deleted in this same transaction.
    if (id !== undefined && this.objects.has(`${kind}/${id}`)) return undefined;
    return id;
  }

  kv(key: string, value: string): void {
    this.kvs.set(key, value);
  }

  kvGet(key: string): string | null {
    return this.kvs.get(key) ?? this.store.kvGet(key);
  }

  commit(): Change[] {
    const changes: Change[] = [];
    for (const s of this.objects.values()) {
      const prev = this.store.commitObject(s.kind, s.id, s.next);
      if (s.next) changes.push({ kind: s.kind, action: s.action, id: s.id, object: s.next });
      else if (prev) changes.push({ kind: s.kind, action: 'delete', id: s.id, object: prev });
    }
    for (const [k, v] of this.kvs) this.store.commitKv(k, v);
    return changes;
  }
}

/**
 * A service may only reference secrets and configs that exist, and one that a
 * service references cannot be removed (Docker's rules). Checked here, at
 * apply, as well as by the API: a create racing a remove cannot leave a
 * service pointing at nothing.
 */
function checkSecretRefs(stage: Stage, s: Service): void {
  const c = s.Spec?.TaskTemplate?.ContainerSpec;
  (c?.Secrets ?? []).forEach((r, i) => {
    if (!stage.get('secret', r.SecretID)) throw new StoreError(StoreErrorCode.INVALID, `secret ${r.SecretName || r.SecretID} not found`, `Spec.TaskTemplate.ContainerSpec.Secrets[${i}]`);
  });
  (c?.Configs ?? []).forEach((r, i) => {
    if (!stage.get('config', r.ConfigID)) throw new StoreError(StoreErrorCode.INVALID, `config ${r.ConfigName || r.ConfigID} not found`, `Spec.TaskTemplate.ContainerSpec.Configs[${i}]`);
  });
}

function checkUnused(stage: Stage, kind: 'secret' | 'config', o: Secret | Config): void {
  const users = stage
    .services()
    .filter((s) => {
      const c = s.Spec?.TaskTemplate?.ContainerSpec;
      return kind === 'secret' ? (c?.Secrets ?? []).some((r) => r.SecretID === o.ID) : (c?.Configs ?? []).some((r) => r.ConfigID === o.ID);
    })
    .map((s) => s.Spec.Name)
    .sort();
  if (users.length > 0) {
    throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, `${kind} '${o.Spec.Name}' is in use by the following service${users.length > 1 ? 's' : ''}: ${users.join(', ')}`);
  }
}

function emptyTables(): Tables {
  return { cluster: new Map(), node: new Map(), service: new Map(), task: new Map(), network: new Map(), secret: new Map(), config: new Map() };
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

