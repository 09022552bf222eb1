import type { Command } from 'commander';
import { registerChaos } from './chaos.js';
import { registerCheck } from './check.js';
import { registerDown } from './down.js';
import { registerEnv } from './env.js';
import { registerImage } from './image.js';
import { registerJoinToken } from './join-token.js';
import { registerLeave } from './leave.js';
import { registerNode } from './node.js';
import { registerNodeProcess } from './node-process.js';
import { registerService } from './service.js';
import { registerUp } from './up.js';

/** Every top-level command registers itself here, in help order. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerUp,
  registerDown,
  registerEnv,
  registerNode,
  registerService,
  registerImage,
  registerJoinToken,
  registerNodeProcess,
  registerLeave,
  registerCheck,
  registerChaos,
];
