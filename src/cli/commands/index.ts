import type { Command } from 'commander';
import { registerCheck } from './check.js';
import { registerNodeProcess } from './node-process.js';

/** Every top-level command registers itself here, in help order. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerNodeProcess, registerCheck];
