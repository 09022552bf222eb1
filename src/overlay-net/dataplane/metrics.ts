/** Plain counters and last figures of one data plane (the daemon exports them). */
export class DataPlaneMetrics {
  applies = 0;
  applyFailures = 0;
  /** Applies that changed only rules and skipped reading the kernel back (kernel.ts fast path). */
  fastApplies = 0;
  /** Wall time of the last successful apply, observe to nft, ms. */
  lastApplyMs = 0;
  /** From the start of the last apply to its nft transaction's commit: when new connections follow the new plan, ms. */
  lastNftMs = 0;
  /** Process spawns of the last apply (observe 2 + batches + one per new task namespace + nft). */
  lastApplySpawns = 0;
  /** Commands in the last apply's batches (0 for an unchanged plan). */
  lastApplyCommands = 0;
  lastError: string | null = null;
}
