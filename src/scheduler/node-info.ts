/**
 * What the scheduler keeps per node: facts derived once when the node is
 * upserted (so filters compare precomputed, lower-cased strings instead of
 * re-reading the Node on every check), and usage aggregates updated as tasks
 * are counted or released (so a fit check is O(1), never a walk over tasks).
 */
import { nodeIp } from '../model/constraints.js';
import type { Node, NodeAvailability, NodeState } from '../model/index.js';
import { normalizeArch, normalizeOs } from '../model/platform.js';

/** A reservation or capacity as a non-negative finite number (the API validates; we never trust NaN). */
export function amount(x: number | undefined): number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : 0;
}

export class NodeInfo {
  /** Set while the node exists in the scheduler; undefined for a placeholder that only holds usage of tasks assigned to a node we have not seen (or no longer see). */
  node: Node | undefined = undefined;

  // Facts, refreshed by setNode.
  state: NodeState = 'unknown';
  availability: NodeAvailability = 'active';
  capCpu = 0;
  capMem = 0;
  idLc = '';
  hostnameLc = '';
  /** The node's address (Status.Addr without a port), '' when unknown: node.ip constraints. */
  ip = '';
  roleLc = '';
  os = '';
  arch = '';
  /** Lower-cased label values (constraint values match case-insensitively, as in Docker; label keys do not). */
  labelsLc: Map<string, string> = new Map();
  engineLabelsLc: Map<string, string> = new Map();
  /** Lower-cased; undefined = the node did not say, so any runtime is allowed. */
  runtimes: Set<string> | undefined = undefined;

  // Usage of the non-terminal tasks counted on this node.
  usedCpu = 0;
  usedMem = 0;
  tasks = 0;
  /**
   * Changes (to a scheduler-wide unique value) whenever the node's facts or
   * usage change: cached binpack scores are valid while it stays the same.
   */
  stamp = 0;
  /** Host ports in use, "tcp/80" → tasks holding it (more than 1 only if they were assigned outside the scheduler). */
  ports: Map<string, number> | undefined = undefined;
  /** Images in the node's store (Description.Images). */
  images: ReadonlySet<string> = NO_IMAGES;

  constructor(
    readonly id: string,
    /** Index into the scheduler's per-slot scratch arrays; stable while this object lives. */
    readonly slot: number,
  ) {}

  setNode(n: Node): void {
    this.node = n;
    this.state = n.Status?.State ?? 'unknown';
    this.availability = n.Spec?.Availability ?? 'active';
    const d = n.Description;
    this.capCpu = amount(d?.Resources?.NanoCPUs);
    this.capMem = amount(d?.Resources?.MemoryBytes);
    this.idLc = n.ID.toLowerCase();
    this.hostnameLc = (d?.Hostname ?? '').toLowerCase();
    this.ip = nodeIp(n) ?? '';
    this.roleLc = (n.Spec?.Role ?? '').toLowerCase();
    this.os = normalizeOs(d?.Platform?.OS);
    this.arch = normalizeArch(d?.Platform?.Architecture);
    this.labelsLc = lowerValues(n.Spec?.Labels);
    this.engineLabelsLc = lowerValues(d?.Engine?.Labels);
    this.runtimes = d?.Runtimes ? new Set(d.Runtimes.map((r) => r.toLowerCase())) : undefined;
    this.images = d?.Images?.length ? new Set(d.Images) : NO_IMAGES;
  }

  clearNode(): void {
    this.node = undefined;
  }

  /** True when nothing refers to this object any more and it can be dropped. */
  isEmpty(): boolean {
    return this.node === undefined && this.tasks === 0;
  }
}

export const NO_IMAGES: ReadonlySet<string> = new Set();

function lowerValues(labels: Record<string, string> | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (labels) for (const k of Object.keys(labels)) m.set(k, String(labels[k]).toLowerCase());
  return m;
}
