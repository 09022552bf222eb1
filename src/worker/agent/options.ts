/** What the agent is given: this node, its runtimes, and where status reports go. */
import type { TaskStatus } from '../../model/index.js';
import type { Runtime } from '../runtime/interface.js';
import type { Timers } from '../../util/timers.js';
import type { TaskNetworks } from './task-networks.js';
import type { Logger } from '../../util/log/interface.js';
import type { TaskStore } from './task-db.js';

export interface AgentOptions {
  nodeId: string;
  dataDir: string;
  /** Runtimes available on this node, by name. */
  runtimes: Map<string, Runtime>;
  defaultRuntime: string;
  /** Where status reports go (the dispatcher session). */
  report(updates: { taskId: string; status: TaskStatus }[]): void;
  /** Records carry component=agent, and task/service where they are about one. */
  log?: Logger;
  /** Where tasks' secret tmpfs mounts go (default: secret-files.ts defaultSecretsRoot). */
  secretsRoot?: string;
  /** Clocks (default: the machine's): its wall clock stamps statuses. */
  timers?: Timers;
  /** The node's overlay data plane, fed by the leader's network plans (absent: tasks that join networks are rejected here). */
  networks?: TaskNetworks;
  /** Where the agent records its tasks (default: TaskDb, sqlite, in dataDir); the whole-cluster simulation passes an in-memory one. */
  taskStore?: TaskStore;
}
