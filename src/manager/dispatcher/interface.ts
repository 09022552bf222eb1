/** What the dispatcher needs from the manager around it. */
import type { Transport } from '../../wire/interface.js';
import type { ManagerContext } from '../interface.js';
import type { DispatcherOptions } from './options.js';
import type { Timers } from '../../util/timers.js';
import type { Logger } from '../../util/log/interface.js';

export interface DispatcherDeps {
  transport: Transport;
  ctx: ManagerContext;
  /** Managers' cluster addresses, for agents to fail over to. */
  managers(): { nodeId: string; addr: string }[];
  /**
   * Asked when an agent opens a session: null to accept it, or why not yet
   * (its node is being declared down by the fencing lease).
   */
  admit?(nodeId: string): string | null;
  /** The fence period the agents are told (informational). */
  fenceMs?: number;
  options?: Partial<DispatcherOptions>;
  /** Clocks and timers (default: the machine's); a simulation passes its own. */
  timers?: Timers;
  /** Session IDs (default: 8 random bytes in hex); a simulation passes a seeded one. */
  sessionId?: () => string;
  /** Records carry component=dispatcher. */
  log?: Logger;
}
