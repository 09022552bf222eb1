/**
 * Who holds which overlay address: derived state, never stored or proposed.
 * It is a function of the objects (a live task's NetworksAttachments, a
 * service's Endpoint.VirtualIPs, a node's ShoalAttachments), kept up to date
 * as the store commits each object and rebuilt the same way when a snapshot is
 * restored, so it cannot drift from what the objects say. The allocator asks
 * it "is this address free" instead of scanning every task.
 */
import { isTerminal, type Node, type Service, type Task } from '../../model/index.js';
import { addrOf } from '../../overlay-net/ipam/index.js';
import type { AnyObject, Kind } from './commands.js';
import { hostPortKey } from './task-host-ports.js';

/** One address held: on which network, and by whom ("task/ID", "vip/ID", "node/ID"). */
export interface Holding {
  net: string;
  ip: number;
  owner: string;
}

export class AddrIndex {
  private readonly byNet = new Map<string, Map<number, string>>();

  owner(net: string, ip: number): string | undefined {
    return this.byNet.get(net)?.get(ip);
  }

  /** Addresses in use on one network (for tests and diagnostics). */
  usedOn(net: string): number {
    return this.byNet.get(net)?.size ?? 0;
  }

  add(kind: Kind, o: AnyObject): void {
    for (const h of holdings(kind, o)) {
      let m = this.byNet.get(h.net);
      if (!m) this.byNet.set(h.net, (m = new Map()));
      m.set(h.ip, h.owner);
    }
  }

  remove(kind: Kind, o: AnyObject): void {
    for (const h of holdings(kind, o)) {
      const m = this.byNet.get(h.net);
      // Only the holder's own entry: never drop an address someone else holds now.
      if (m?.get(h.ip) === h.owner) m.delete(h.ip);
      if (m?.size === 0) this.byNet.delete(h.net);
    }
  }
}

/**
 * The addresses an object holds. A task holds its addresses until its
 * observed state is terminal (then they are free again, though the task keeps
 * showing them, as Docker's `task inspect` does).
 */
export function holdings(kind: Kind, o: AnyObject): Holding[] {
  const out: Holding[] = [];
  if (kind === 'task') {
    const t = o as Task;
    if (isTerminal(t.Status.State)) return out;
    for (const a of t.NetworksAttachments ?? []) for (const addr of a.Addresses) out.push({ net: a.Network.ID, ip: addrOf(addr), owner: `task/${t.ID}` });
    // Host ports a placed task holds on its node (process tasks: task-host-ports.ts), keyed by port number.
    // One holding per port (TCP and UDP of one target port share it).
    if (t.NodeID) {
      const ports = new Set((t.Status.PortStatus?.Ports ?? []).filter((p) => p.PublishMode === 'host' && p.PublishedPort).map((p) => p.PublishedPort!));
      for (const port of ports) out.push({ net: hostPortKey(t.NodeID), ip: port, owner: `task/${t.ID}` });
    }
  } else if (kind === 'service') {
    const s = o as Service;
    for (const v of s.Endpoint?.VirtualIPs ?? []) out.push({ net: v.NetworkID, ip: addrOf(v.Addr), owner: `vip/${s.ID}` });
  } else if (kind === 'node') {
    const n = o as Node;
    for (const a of n.ShoalAttachments ?? []) out.push({ net: a.NetworkID, ip: addrOf(a.Addr), owner: `node/${n.ID}` });
  }
  return out;
}
