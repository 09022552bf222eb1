/** What the node daemon tells its kernel data plane. */
import type { CommandRunner } from './runner.js';

export interface KernelDataPlaneOptions {
  /**
   * MTU of the underlay path between nodes. Overlay links get 50 bytes less
   * (VXLAN's encapsulation). Default: the MTU of the link that carries the
   * plan's underlayAddr, read at each apply, else 1500.
   */
  underlayMtu?: number;
  /**
   * File recording the task namespaces this data plane made (e.g.
   * `<data-dir>/overlay-netns.json`), so a restarted process still owns
   * them. null: kept in memory only.
   */
  recordPath?: string | null;
  /** The command seam (tests substitute a recorder). Default: execFile of ip/bridge/nft. */
  runner?: CommandRunner;
  /**
   * An apply that changes only nftables rules skips reading the kernel back
   * when the last full read is younger than this (ms). Older, or after any
   * failure, the next apply reads and repairs everything. Default 30 000.
   */
  resyncMs?: number;
  /**
   * Keep one `nft -i` process for rule updates (nft-session.ts) instead of a
   * spawn per apply. Default true (with the default runner).
   */
  nftSession?: boolean;
  /** Root of the sysctl tree of the namespace the process runs in. */
  procSys?: string;
}
