import type { Command } from 'commander';
import { registerCheck } from './check.js';

/** Every top-level command registers itself here, in help order. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerCheck];
